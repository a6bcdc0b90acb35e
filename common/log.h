// Minimal logging for Duet. c10 (via glog) owns the bare LOG/CHECK names, so ours are prefixed.
// DUET_LOG(INFO|WARNING|ERROR) << ...; DUET_VLOG(n) only prints when DUET_VERBOSE >= n.
#pragma once

#include <sstream>
#include <string>

namespace duet::log {

enum class Level { kInfo, kWarning, kError };

// Verbosity from the DUET_VERBOSE environment variable (0 when unset). Thread-safe.
int Verbosity();

// Collects one line and writes it to stderr, atomically, when destroyed.
class Line {
 public:
  Line(Level level, const char* file, int line);
  ~Line();
  std::ostream& stream() { return stream_; }

 private:
  Level level_;
  std::ostringstream stream_;
};

}  // namespace duet::log

#define DUET_LOG_LEVEL_INFO ::duet::log::Level::kInfo
#define DUET_LOG_LEVEL_WARNING ::duet::log::Level::kWarning
#define DUET_LOG_LEVEL_ERROR ::duet::log::Level::kError
#define DUET_LOG(severity) \
  ::duet::log::Line(DUET_LOG_LEVEL_##severity, __FILE__, __LINE__).stream()
#define DUET_VLOG(n)                           \
  if (::duet::log::Verbosity() < (n)) {        \
  } else                                       \
    DUET_LOG(INFO)
