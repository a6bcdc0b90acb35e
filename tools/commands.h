// The duet CLI's commands. Each takes the whole argv (argv[1] is the command name), prints
// --help, reports errors on stderr naming the bad argument, and returns the process exit code.
#pragma once

namespace duet::tools {

int RunGenerate(int argc, char** argv);   // text -> PNG drafts, in process
int RunCaption(int argc, char** argv);    // images -> captions, in process
int RunInitModel(int argc, char** argv);  // a randomly initialised model directory

}  // namespace duet::tools
