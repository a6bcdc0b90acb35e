// The --dtype flag of every duet program that runs a model (CLI commands and model servers): one
// spelling, one help line, one log line saying what was chosen and why.
#pragma once

#include <c10/core/ScalarType.h>

#include "common/status.h"
#include "common/flags.h"

namespace duet {

// --dtype auto|bfloat16|float32 (default auto).
FlagSpec DtypeFlagSpec();

// Parses --dtype, resolves auto against this CPU and logs "<who>: computing in ...".
// InvalidArgument names the flag for any other value.
StatusOr<c10::ScalarType> ReadDtype(const Flags& flags, const char* who);

}  // namespace duet
