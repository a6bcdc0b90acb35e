// The duet command-line tool: dispatches to one command per file in tools/.
#include <cstdio>
#include <cstring>
#include <string>

#include "common/cpu_allocator.h"
#include "model/torch_threads.h"
#include "tools/client/client.h"
#include "tools/commands.h"

namespace {

// generate and caption run in process with --model, or through a gateway with --server.
bool HasServerFlag(int argc, char** argv) {
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--server") == 0 || std::strncmp(argv[i], "--server=", 9) == 0) {
      return true;
    }
  }
  return false;
}

int Generate(int argc, char** argv) {
  return HasServerFlag(argc, argv) ? duet::client::RunRemoteGenerate(argc, argv)
                                   : duet::tools::RunGenerate(argc, argv);
}

int Caption(int argc, char** argv) {
  return HasServerFlag(argc, argv) ? duet::client::RunRemoteCaption(argc, argv)
                                   : duet::tools::RunCaption(argc, argv);
}

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

constexpr Command kCommands[] = {
    {"generate", Generate, "generate image drafts (--model DIR in process, --server ADDR remote)"},
    {"caption", Caption, "caption images (--model DIR in process, --server ADDR remote)"},
    {"up", duet::client::RunUp, "start the four servers on loopback for a model"},
    {"health", duet::client::RunHealth, "exit 0 when a server answers SERVING (--server ADDR)"},
    {"data", duet::tools::RunData, "build training shards (duet data emoji --sources DIR -o DIR)"},
    {"train", duet::tools::RunTrain, "train the tokenizer, image tokenizer and joint model"},
    {"eval", duet::tools::RunEval, "evaluate a model on a dataset (JSON + markdown report)"},
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
  duet::model::UseTorchThreads();  // every core unless OMP_NUM_THREADS says otherwise
  duet::UseCachingCpuAllocator();  // decode steps reuse their activation blocks
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") return Usage(stdout);
  for (const Command& command : kCommands) {
    if (name == command.name) return command.run(argc, argv);
  }
  std::fprintf(stderr, "duet: unknown command \"%s\"\n\n", name.c_str());
  return Usage(stderr);
}
