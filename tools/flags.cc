// Implementation of tools/flags.h.
#include "tools/flags.h"

#include <cerrno>
#include <cstdio>
#include <cmath>
#include <cstdlib>

namespace duet::tools {
namespace {

const FlagSpec* Find(const std::vector<FlagSpec>& specs, const std::string& name) {
  for (const FlagSpec& spec : specs) {
    if (spec.name == name || (!spec.short_name.empty() && spec.short_name == name)) return &spec;
  }
  return nullptr;
}

}  // namespace

StatusOr<Flags> Flags::Parse(const std::vector<FlagSpec>& specs, int argc, char** argv,
                             int first) {
  Flags flags;
  for (const FlagSpec& spec : specs) flags.defaults_[spec.name] = spec.default_value;
  bool only_positional = false;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (only_positional || arg.size() < 2 || arg[0] != '-') {
      flags.positional_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      flags.help_ = true;
      continue;
    }
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1), value;
    bool has_value = false;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    const FlagSpec* spec = Find(specs, name);
    if (spec == nullptr) return absl::InvalidArgumentError("unknown flag " + arg);
    if (flags.values_.count(spec->name)) {
      return absl::InvalidArgumentError("flag --" + spec->name + " given twice");
    }
    if (spec->is_switch) {
      if (has_value) return absl::InvalidArgumentError("flag --" + spec->name + " takes no value");
      value = "true";
    } else if (!has_value) {
      if (i + 1 >= argc) return absl::InvalidArgumentError("flag --" + spec->name + " needs a value");
      value = argv[++i];
    }
    flags.values_[spec->name] = value;
  }
  return flags;
}

std::string Flags::Get(const std::string& name) const {
  const auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  const auto def = defaults_.find(name);
  return def == defaults_.end() ? "" : def->second;
}

StatusOr<int64_t> Flags::GetInt(const std::string& name, int64_t lo, int64_t hi) const {
  const std::string text = Get(name);
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0) {
    return absl::InvalidArgumentError("--" + name + " must be an integer, got \"" + text + "\"");
  }
  DUET_RETURN_IF_ERROR(CheckRange<int64_t>(("--" + name).c_str(), value, lo, hi));
  return value;
}

StatusOr<uint64_t> Flags::GetUint64(const std::string& name) const {
  const std::string text = Get(name);
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || text[0] == '-' || *end != '\0' || errno != 0) {
    return absl::InvalidArgumentError("--" + name + " must be an integer in [0, 2^64), got \"" +
                                      text + "\"");
  }
  return value;
}

StatusOr<double> Flags::GetDouble(const std::string& name, double lo, double hi) const {
  const std::string text = Get(name);
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || std::isnan(value)) {
    return absl::InvalidArgumentError("--" + name + " must be a number, got \"" + text + "\"");
  }
  DUET_RETURN_IF_ERROR(CheckRange(("--" + name).c_str(), value, lo, hi));
  return value;
}

int ReportError(const std::string& command, const Status& status, bool usage) {
  std::fprintf(stderr, "duet %s: %s: %s\n", command.c_str(),
               absl::StatusCodeToString(status.code()).c_str(),
               std::string(status.message()).c_str());
  return usage ? 2 : 1;
}

std::string FlagsHelp(const std::string& command, const std::string& usage,
                      const std::string& summary, const std::vector<FlagSpec>& specs) {
  std::string out = absl::StrCat("Usage: duet ", command, " ", usage, "\n", summary, "\n\nFlags:\n");
  for (const FlagSpec& spec : specs) {
    std::string names = spec.short_name.empty() ? "    " : "-" + spec.short_name + ", ";
    names += "--" + spec.name + (spec.is_switch ? "" : " VALUE");
    out += absl::StrCat("  ", names, std::string(names.size() < 26 ? 26 - names.size() : 1, ' '),
                        spec.help);
    if (!spec.default_value.empty()) out += " (default: " + spec.default_value + ")";
    out += "\n";
  }
  out += "  -h, --help                help for this command\n";
  return out;
}

}  // namespace duet::tools
