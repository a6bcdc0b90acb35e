// The duet CLI's in-process commands (the remote ones are in tools/client/client.h). Each takes
// the whole argv (argv[1] is the command name) and runs in tools/command.h's RunCommand: one
// --help, one error format, one set of exit codes.
#pragma once

namespace duet::tools {

int RunGenerate(int argc, char** argv);   // text -> PNG drafts, in process
int RunCaption(int argc, char** argv);    // images -> captions, in process
int RunInitModel(int argc, char** argv);  // a randomly initialised model directory

// The training commands, thin files over the training library (training/, no CLI code there).
int RunData(int argc, char** argv);   // `duet data emoji --sources DIR -o DIR`: build shards
int RunTrain(int argc, char** argv);  // `duet train --data DIR -o DIR`: the training stages
int RunEval(int argc, char** argv);   // `duet eval --model DIR --data DIR`: JSON + markdown

}  // namespace duet::tools
