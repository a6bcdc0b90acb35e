// The one wrapper every `duet` command runs in: it parses the command's flags (common/flags.h),
// prints --help, checks the required flags, runs the command and turns the outcome into stderr
// and an exit code, the same way for every command:
//   0  done (or --help);
//   1  the command failed, or (caption) some of its inputs did: "duet CMD: CODE: message";
//   2  the command line is wrong: unknown flag, missing value, a required flag not given.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/flags.h"
#include "common/status.h"

namespace duet::tools {

struct CommandInfo {
  std::string name;                   // "generate": errors read "duet generate: ..."
  std::string usage;                  // shown after "Usage: duet <name> "
  std::string summary;                // one line under the usage
  std::vector<FlagSpec> flags;
  std::vector<std::string> required;  // flags that must be given (a usage error otherwise)
};

// Returns the exit code of a run that finished (0, or 1 when some inputs failed), or its error.
using CommandBody = std::function<StatusOr<int>(const Flags&)>;

// The body of a command whose every successful run exits 0.
CommandBody ExitZeroWhenOk(std::function<Status(const Flags&)> run);

// argv[1] is the command's name; its flags start at argv[2].
int RunCommand(const CommandInfo& info, int argc, char** argv, const CommandBody& body);

// Prints "duet <command>: <CODE>: <message>" on stderr and returns the exit code: 2 when the
// command line itself was wrong (`usage`), 1 for every other error.
int ReportError(const std::string& command, const Status& status, bool usage);

// Flag lists joined, for commands that share groups of flags.
std::vector<FlagSpec> Concat(std::vector<FlagSpec> a, const std::vector<FlagSpec>& b);

}  // namespace duet::tools
