// Implementation of tools/dtype_flag.h.
#include "tools/dtype_flag.h"

#include "common/compute_dtype.h"

namespace duet::tools {

FlagSpec DtypeFlagSpec() {
  return {"dtype", "",
          "compute dtype: auto (bfloat16 where the CPU has bf16 instructions), bfloat16, float32",
          "auto"};
}

StatusOr<c10::ScalarType> ReadDtype(const Flags& flags, const char* who) {
  DUET_ASSIGN_OR_RETURN(const DtypeChoice choice, ParseDtypeChoice(flags.Get("dtype"), "--dtype"));
  const c10::ScalarType dtype = ResolveDtype(choice);
  LogDtypeChoice(who, choice, dtype);
  return dtype;
}

}  // namespace duet::tools
