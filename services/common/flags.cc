// Implementation of services/common/flags.h.
#include "services/common/flags.h"

#include <algorithm>
#include <cstdlib>

namespace duet::services {
namespace {

// Flags are spelled with dashes (--drain-ms); specs name them with underscores (drain_ms), and
// the underscore spelling is accepted too.
std::string SpecName(std::string name) {
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::string Spelled(std::string name) {
  std::replace(name.begin(), name.end(), '_', '-');
  return name;
}

}  // namespace

StatusOr<ServerFlags> ServerFlags::Parse(int argc, char** argv,
                                         const std::map<std::string, ServerFlag>& specs) {
  ServerFlags flags;
  for (const auto& [name, spec] : specs) flags.values_[name] = spec.default_value;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      flags.help_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
    }
    std::string name = arg.substr(2), value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);  // the value as given: only the name is respelled
      name.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("flag --", Spelled(name), " needs a value"));
    }
    name = SpecName(name);
    if (specs.count(name) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", Spelled(name)));
    }
    flags.values_[name] = value;
  }
  return flags;
}

StatusOr<int64_t> ServerFlags::GetInt(const std::string& name, int64_t lo, int64_t hi) const {
  const std::string& text = Get(name);
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value < lo || value > hi) {
    return absl::InvalidArgumentError(absl::StrCat("--", Spelled(name), " must be an integer in [",
                                                   lo, ", ", hi, "], got '", text, "'"));
  }
  return static_cast<int64_t>(value);
}

std::string ServerFlags::Usage(const std::string& program,
                               const std::map<std::string, ServerFlag>& specs) {
  std::string usage = absl::StrCat("Usage: ", program, " [flags]\n\nFlags:\n");
  for (const auto& [name, spec] : specs) {
    absl::StrAppend(&usage, "  --", Spelled(name), " (default '", spec.default_value, "')  ",
                    spec.help, "\n");
  }
  return usage;
}

}  // namespace duet::services
