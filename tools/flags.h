// A small command-line parser for the duet CLI: --name value, --name=value, -x value, switches
// and positional arguments; every error names the argument at fault.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace duet::tools {

struct FlagSpec {
  std::string name;        // long name without dashes, e.g. "seed"
  std::string short_name;  // optional single letter, e.g. "n"
  std::string help;        // one line for --help
  std::string default_value;
  bool is_switch = false;  // takes no value (--rerank)
};

class Flags {
 public:
  // Parses argv[first..argc). Unknown flags, missing values and repeated flags are errors.
  static StatusOr<Flags> Parse(const std::vector<FlagSpec>& specs, int argc, char** argv,
                               int first);

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Get(const std::string& name) const;  // value or the spec's default
  StatusOr<int64_t> GetInt(const std::string& name, int64_t lo, int64_t hi) const;
  StatusOr<uint64_t> GetUint64(const std::string& name) const;
  StatusOr<double> GetDouble(const std::string& name, double lo, double hi) const;
  const std::vector<std::string>& positional() const { return positional_; }
  bool help() const { return help_; }

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> defaults_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

// "Usage: duet <command> <usage>\n<summary>\n\nFlags:\n  -n, --count N  ...".
std::string FlagsHelp(const std::string& command, const std::string& usage,
                      const std::string& summary, const std::vector<FlagSpec>& specs);

// Prints "duet <command>: <CODE>: <message>" on stderr and returns the exit code: 2 when the
// command line itself was wrong (`usage`: unknown flag, missing value), 1 for every other error.
int ReportError(const std::string& command, const Status& status, bool usage);

}  // namespace duet::tools
