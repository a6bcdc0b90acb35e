// Implementation of common/log.h: one formatted line per message, written with a single call.
#include "common/log.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace duet::log {

int Verbosity() {
  static const int verbosity = [] {
    const char* env = std::getenv("DUET_VERBOSE");
    return env ? std::atoi(env) : 0;
  }();
  return verbosity;
}

Line::Line(Level level, const char* file, int line) : level_(level) {
  const char tag = level == Level::kInfo ? 'I' : level == Level::kWarning ? 'W' : 'E';
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
  const char* base = std::strrchr(file, '/');
  stream_ << tag << ' ' << stamp << ' ' << (base ? base + 1 : file) << ':' << line << "] ";
}

Line::~Line() {
  stream_ << '\n';
  const std::string text = stream_.str();
  std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace duet::log
