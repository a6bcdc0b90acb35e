// What the four server main()s share: the common flags, turning them into ServerOptions, the
// "listening on" line that launchers and tests read, and the serve-until-SIGTERM tail.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/flags.h"
#include "services/common/server_runner.h"

namespace duet::services {

// `extra`, then --listen, --model, --max-message-mb, --drain-ms, --metrics-listen and the TLS
// flags (common/flags.h: the parser every duet program uses).
std::vector<FlagSpec> CommonServerFlags(const std::string& default_listen,
                                        std::vector<FlagSpec> extra);

// Parses argv; prints usage and returns 0 on --help, prints the error and the usage and returns
// 2 on bad flags or any positional argument, else returns -1 and fills `flags` and `options`.
int ParseServerFlags(const std::string& program, int argc, char** argv,
                     const std::vector<FlagSpec>& specs, Flags* flags, ServerOptions* options);

// Prints "<program> listening on <address>" to stdout (flushed: `duet up` and the tests wait
// for it), serves until SIGTERM/SIGINT, drains, runs `after_drain` and returns 0.
int ServeMain(const std::string& program, ServerRunner& runner, const ServerOptions& options,
              const std::function<void()>& after_drain = nullptr);

// Prints "<program>: <status>" to stderr and returns 1.
int FailMain(const std::string& program, const Status& status);

}  // namespace duet::services
