// What the four server main()s share: the common flags, turning them into ServerOptions, the
// "listening on" line that launchers and tests read, and the serve-until-SIGTERM tail.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "services/common/flags.h"
#include "services/common/server_runner.h"

namespace duet::services {

// --listen, --model, --max_message_mb, --drain_ms, plus `extra`.
std::map<std::string, ServerFlag> CommonServerFlags(const std::string& default_listen,
                                                    std::map<std::string, ServerFlag> extra);

// Parses argv; prints usage and returns 0 on --help, prints the error and returns 2 on bad
// flags, else returns -1 and fills `flags` and `options`.
int ParseServerFlags(const std::string& program, int argc, char** argv,
                     const std::map<std::string, ServerFlag>& specs, ServerFlags* flags,
                     ServerOptions* options);

// Prints "<program> listening on <address>" to stdout (flushed: `duet up` and the tests wait
// for it), serves until SIGTERM/SIGINT, drains, runs `after_drain` and returns 0.
int ServeMain(const std::string& program, ServerRunner& runner, const ServerOptions& options,
              const std::function<void()>& after_drain = nullptr);

// Prints "<program>: <status>" to stderr and returns 1.
int FailMain(const std::string& program, const Status& status);

}  // namespace duet::services
