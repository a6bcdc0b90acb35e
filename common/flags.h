// The one command-line parser of every duet program (the CLI's commands and the four servers):
// --name value, --name=value, -x value, switches and positional arguments. Names are spelled with
// dashes (--drain-ms); the underscore spelling (--drain_ms) is accepted as the same flag. Every
// error names the argument at fault.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace duet {

struct FlagSpec {
  std::string name;        // long name without the leading dashes, e.g. "drain-ms"
  std::string short_name;  // optional single letter, e.g. "n"
  std::string help;        // one line for --help
  std::string default_value;
  bool is_switch = false;  // takes no value (--rerank)
};

class Flags {
 public:
  // Parses argv[first..argc). Unknown flags, missing values and repeated flags are
  // InvalidArgument.
  static StatusOr<Flags> Parse(const std::vector<FlagSpec>& specs, int argc, char** argv,
                               int first);

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Get(const std::string& name) const;  // value or the spec's default
  StatusOr<int64_t> GetInt(const std::string& name, int64_t lo, int64_t hi) const;
  StatusOr<uint64_t> GetUint64(const std::string& name) const;
  StatusOr<double> GetDouble(const std::string& name, double lo, double hi) const;
  const std::vector<std::string>& positional() const { return positional_; }
  // InvalidArgument "unexpected argument 'X'" for the first positional argument, if any.
  Status NoPositional() const;
  bool help() const { return help_; }

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> defaults_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

// "Usage: <program> <usage>\n<summary>\n\nFlags:\n  -n, --count VALUE  ...", e.g. program
// "duet generate" or "duet-gateway".
std::string FlagsHelp(const std::string& program, const std::string& usage,
                      const std::string& summary, const std::vector<FlagSpec>& specs);

}  // namespace duet
