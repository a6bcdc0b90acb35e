// Implementation of training/train_log.h.
#include "training/train_log.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace duet::training {
namespace {

std::string Duration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  char text[32];
  if (s >= 3600) {
    std::snprintf(text, sizeof(text), "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  } else {
    std::snprintf(text, sizeof(text), "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  }
  return text;
}

}  // namespace

TrainLog::TrainLog(std::string metrics_path, std::string stage, int64_t total_steps,
                   int64_t first_step)
    : metrics_path_(std::move(metrics_path)),
      stage_(std::move(stage)),
      total_steps_(total_steps),
      last_step_(first_step),
      last_time_(Clock::now()),
      tty_(isatty(STDERR_FILENO) == 1) {}

TrainLog::~TrainLog() {
  if (drawn_ && tty_) std::fputc('\n', stderr);
}

Status TrainLog::Append(const nlohmann::json& row) {
  std::ofstream out(metrics_path_, std::ios::app);
  out << row.dump() << "\n";
  if (!out) return absl::InternalError("cannot append to " + metrics_path_);
  return absl::OkStatus();
}

Status TrainLog::Record(int64_t step, int64_t samples, const nlohmann::json& values) {
  const Clock::time_point now = Clock::now();
  const double seconds = std::chrono::duration<double>(now - last_time_).count();
  const int64_t steps = std::max<int64_t>(1, step - last_step_);
  samples_per_second_ = seconds > 0 ? static_cast<double>(samples) / seconds : 0;
  const double eta =
      seconds / static_cast<double>(steps) * static_cast<double>(total_steps_ - step);
  last_time_ = now;
  last_step_ = step;
  nlohmann::json row = values;
  row["stage"] = stage_;
  row["step"] = step;
  row["samples_per_s"] = samples_per_second_;
  DUET_RETURN_IF_ERROR(Append(row));
  std::string line = absl::StrCat("[", stage_, "] step ", step, "/", total_steps_);
  for (const auto& item : values.items()) {
    if (item.value().is_number_float()) {
      char number[32];
      std::snprintf(number, sizeof(number), " %.4f", item.value().get<double>());
      line += " " + item.key() + number;
    }
  }
  char rate[96];
  std::snprintf(rate, sizeof(rate), " | %.1f samples/s | ETA %s", samples_per_second_,
                Duration(eta).c_str());
  line += rate;
  std::fprintf(stderr, tty_ ? "\r%-100s" : "%s\n", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
  return absl::OkStatus();
}

}  // namespace duet::training
