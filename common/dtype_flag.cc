// Implementation of common/dtype_flag.h.
#include "common/dtype_flag.h"

#include "common/compute_dtype.h"

namespace duet {

FlagSpec DtypeFlagSpec() {
  return {"dtype", "",
          "compute dtype: auto (bfloat16 where the CPU has bf16 instructions), bfloat16, float32",
          "auto"};
}

StatusOr<c10::ScalarType> ReadDtype(const Flags& flags, const char* who) {
  return ChooseDtype(flags.Get("dtype"), "--dtype", who);
}

}  // namespace duet
