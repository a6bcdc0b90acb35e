// Which dtype Duet's matrix products run in: bfloat16 where the CPU has bf16 matrix instructions
// (AMX-BF16 or AVX512-BF16), float32 elsewhere. One spelling for every binary's --dtype flag.
#pragma once

#include <string>

#include <c10/core/ScalarType.h>

#include "common/status.h"

namespace duet {

enum class DtypeChoice { kAuto, kBFloat16, kFloat32 };

// "auto", "bfloat16" (or "bf16") and "float32" (or "fp32"); InvalidArgument naming `field` else.
StatusOr<DtypeChoice> ParseDtypeChoice(const std::string& text, const char* field = "dtype");

struct CpuBf16Support {
  bool amx_bf16 = false;
  bool avx512_bf16 = false;
  bool any() const { return amx_bf16 || avx512_bf16; }
};

// What this CPU reports (cpuid, with the OS's AVX-512 state checked). The environment variable
// DUET_CPU_BF16=0 reports no support and =1 full support, so a machine can act as an older one.
CpuBf16Support DetectCpuBf16();

// auto -> bfloat16 when `cpu` has bf16 support, else float32. An explicit choice is kept.
c10::ScalarType ResolveDtype(DtypeChoice choice, const CpuBf16Support& cpu);
inline c10::ScalarType ResolveDtype(DtypeChoice choice) {
  return ResolveDtype(choice, DetectCpuBf16());
}

// "bfloat16" or "float32": the spelling of logs, GetModelInfo and --dtype.
std::string DtypeName(c10::ScalarType dtype);

// One log line, "<who>: computing in bfloat16 (auto; CPU has AVX512-BF16)".
void LogDtypeChoice(const char* who, DtypeChoice choice, c10::ScalarType dtype);

// What every --dtype reader does: parses `text` (errors name `field`), resolves it against this
// CPU and logs the choice for `who`.
StatusOr<c10::ScalarType> ChooseDtype(const std::string& text, const char* field, const char* who);

}  // namespace duet
