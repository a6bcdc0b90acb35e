// Implementation of services/common/dtype_flag.h.
#include "services/common/dtype_flag.h"

#include "common/compute_dtype.h"

namespace duet::services {

std::pair<std::string, ServerFlag> DtypeServerFlag() {
  return {"dtype",
          {"auto", "compute dtype: auto (bfloat16 where the CPU has bf16 instructions), "
                   "bfloat16, float32"}};
}

StatusOr<c10::ScalarType> ReadServerDtype(const ServerFlags& flags, const std::string& program) {
  return ChooseDtype(flags.Get("dtype"), "--dtype", program.c_str());
}

}  // namespace duet::services
