// Implementation of tools/command.h.
#include "tools/command.h"

#include <cstdio>

namespace duet::tools {

int ReportError(const std::string& command, const Status& status, bool usage) {
  std::fprintf(stderr, "duet %s: %s: %s\n", command.c_str(),
               absl::StatusCodeToString(status.code()).c_str(),
               std::string(status.message()).c_str());
  return usage ? 2 : 1;
}

int RunCommand(const CommandInfo& info, int argc, char** argv, const CommandBody& body) {
  StatusOr<Flags> flags = Flags::Parse(info.flags, argc, argv, 2);
  if (!flags.ok()) return ReportError(info.name, flags.status(), /*usage=*/true);
  if (flags->help()) {
    std::fputs(FlagsHelp("duet " + info.name, info.usage, info.summary, info.flags).c_str(),
               stdout);
    return 0;
  }
  for (const std::string& name : info.required) {
    if (flags->Get(name).empty()) {
      return ReportError(info.name, absl::InvalidArgumentError("--" + name + " is required"),
                         /*usage=*/true);
    }
  }
  const StatusOr<int> code = body(*flags);
  return code.ok() ? *code : ReportError(info.name, code.status(), /*usage=*/false);
}

CommandBody ExitZeroWhenOk(std::function<Status(const Flags&)> run) {
  return [run = std::move(run)](const Flags& flags) -> StatusOr<int> {
    DUET_RETURN_IF_ERROR(run(flags));
    return 0;
  };
}

std::vector<FlagSpec> Concat(std::vector<FlagSpec> a, const std::vector<FlagSpec>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace duet::tools
