// Command-line flags for the server binaries: --name=value or --name value, defaults, --help.
// Deliberately tiny: each server has a handful of flags and no other dependencies.
#pragma once

#include <map>
#include <string>

#include "common/status.h"

namespace duet::services {

struct ServerFlag {
  std::string default_value;
  std::string help;
};

class ServerFlags {
 public:
  // Parses argv against `specs`. InvalidArgument for unknown flags, missing values or positional
  // arguments. `--help` sets help().
  static StatusOr<ServerFlags> Parse(int argc, char** argv,
                                     const std::map<std::string, ServerFlag>& specs);
  const std::string& Get(const std::string& name) const { return values_.at(name); }
  // InvalidArgument naming the flag unless it is an integer in [lo, hi].
  StatusOr<int64_t> GetInt(const std::string& name, int64_t lo, int64_t hi) const;
  bool help() const { return help_; }
  static std::string Usage(const std::string& program,
                           const std::map<std::string, ServerFlag>& specs);

 private:
  std::map<std::string, std::string> values_;
  bool help_ = false;
};

}  // namespace duet::services
