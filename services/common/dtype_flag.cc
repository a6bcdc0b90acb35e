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
  DUET_ASSIGN_OR_RETURN(const DtypeChoice choice, ParseDtypeChoice(flags.Get("dtype"), "--dtype"));
  const c10::ScalarType dtype = ResolveDtype(choice);
  LogDtypeChoice(program.c_str(), choice, dtype);
  return dtype;
}

}  // namespace duet::services
