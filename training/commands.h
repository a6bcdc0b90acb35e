// The training commands of the duet CLI, wired into tools/duet_main.cc. Each takes the whole argv
// (argv[1] is the command name, argv[2] may be a subcommand), prints --help, reports errors on
// stderr naming the bad argument, and returns the process exit code.
#pragma once

namespace duet::training {

int RunData(int argc, char** argv);   // `duet data emoji --sources DIR -o DIR`: build shards
int RunTrain(int argc, char** argv);  // `duet train --data DIR -o DIR`: the training stages
int RunEval(int argc, char** argv);   // `duet eval --model DIR --data DIR`: JSON + markdown

}  // namespace duet::training
