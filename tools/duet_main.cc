// The duet command-line tool: dispatches to one command per file in tools/.
#include <cstdio>
#include <cstring>
#include <string>

#include "tools/commands.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

constexpr Command kCommands[] = {
    {"generate", duet::tools::RunGenerate, "generate image drafts for a prompt"},
    {"caption", duet::tools::RunCaption, "caption images"},
    {"init-model", duet::tools::RunInitModel, "write a randomly initialised model directory"},
};

int Usage(FILE* out) {
  std::fputs("Usage: duet <command> [flags]\n\nCommands:\n", out);
  for (const Command& command : kCommands) {
    std::fprintf(out, "  %-12s %s\n", command.name, command.summary);
  }
  std::fputs("\nRun 'duet <command> --help' for the flags of a command.\n", out);
  return out == stdout ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage(stderr);
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") return Usage(stdout);
  for (const Command& command : kCommands) {
    if (name == command.name) return command.run(argc, argv);
  }
  std::fprintf(stderr, "duet: unknown command \"%s\"\n\n", name.c_str());
  return Usage(stderr);
}
