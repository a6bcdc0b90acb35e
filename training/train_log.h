// Training output for people and for tools: one progress line on stderr (stage, step, loss,
// samples/s, ETA) and one JSON object per logged step appended to <out>/metrics.jsonl.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "nlohmann/json.hpp"

namespace duet::training {

// Not thread-safe: one per running stage.
class TrainLog {
 public:
  // `first_step` is where this run starts (a resumed run starts past 0); rates count from it.
  TrainLog(std::string metrics_path, std::string stage, int64_t total_steps, int64_t first_step);
  ~TrainLog();  // ends the progress line

  // Records step `step` (1-based count of steps done) after `samples` more samples since the
  // previous Record; `values` (e.g. {"loss": 0.3}) go to the JSONL row and the progress line.
  Status Record(int64_t step, int64_t samples, const nlohmann::json& values);
  // Appends a row without a progress line (e.g. validation numbers).
  Status Append(const nlohmann::json& row);

  double samples_per_second() const { return samples_per_second_; }

 private:
  using Clock = std::chrono::steady_clock;
  std::string metrics_path_, stage_;
  int64_t total_steps_, last_step_;
  Clock::time_point last_time_;
  double samples_per_second_ = 0;
  bool tty_;
  bool drawn_ = false;
};

}  // namespace duet::training
