// The --dtype flag of the servers that run a model (text encoder, image codec, transformer): the
// same choice and log line as the CLI's --dtype (tools/dtype_flag.h).
#pragma once

#include <string>

#include <c10/core/ScalarType.h>

#include "services/common/flags.h"

namespace duet::services {

// {"dtype", auto|bfloat16|float32, default auto}, to merge into a server's flag specs.
std::pair<std::string, ServerFlag> DtypeServerFlag();

// Parses --dtype, resolves auto against this CPU and logs "<program>: computing in ...".
StatusOr<c10::ScalarType> ReadServerDtype(const ServerFlags& flags, const std::string& program);

}  // namespace duet::services
