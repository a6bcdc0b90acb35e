// Implementation of common/flags.h.
#include "common/flags.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace duet {
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
    std::replace(name.begin(), name.end(), '_', '-');  // only the name: values stay as given
    const FlagSpec* spec = Find(specs, name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError("unknown flag " + arg.substr(0, arg.find('=')));
    }
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

Status Flags::NoPositional() const {
  if (positional_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError("unexpected argument '" + positional_[0] + "'");
}

std::string FlagsHelp(const std::string& program, const std::string& usage,
                      const std::string& summary, const std::vector<FlagSpec>& specs) {
  std::vector<std::pair<std::string, const FlagSpec*>> rows;
  size_t width = std::string("-h, --help").size();
  for (const FlagSpec& spec : specs) {
    std::string names = spec.short_name.empty() ? "    " : "-" + spec.short_name + ", ";
    names += "--" + spec.name + (spec.is_switch ? "" : " VALUE");
    width = std::max(width, names.size());
    rows.emplace_back(std::move(names), &spec);
  }
  std::string out = absl::StrCat("Usage: ", program, " ", usage, "\n", summary, "\n\nFlags:\n");
  for (const auto& [names, spec] : rows) {
    out += absl::StrCat("  ", names, std::string(width + 2 - names.size(), ' '), spec->help);
    if (!spec->default_value.empty()) out += " (default: " + spec->default_value + ")";
    out += "\n";
  }
  out += absl::StrCat("  -h, --help", std::string(width + 2 - 10, ' '), "this help\n");
  return out;
}

}  // namespace duet
