// Implementation of common/compute_dtype.h.
#include "common/compute_dtype.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "common/log.h"

namespace duet {
namespace {

#if defined(__x86_64__)
constexpr unsigned kLeafFeatures = 7;
constexpr unsigned kEdxAmxBf16 = 1u << 22;    // leaf 7 subleaf 0, EDX
constexpr unsigned kEaxAvx512Bf16 = 1u << 5;  // leaf 7 subleaf 1, EAX

CpuBf16Support ReadCpuid() {
  CpuBf16Support cpu;
  // AVX-512 usable at all: the CPU has it and the OS saves its registers.
  if (!__builtin_cpu_supports("avx512f")) return cpu;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_count(kLeafFeatures, 0, &eax, &ebx, &ecx, &edx)) {
    cpu.amx_bf16 = (edx & kEdxAmxBf16) != 0;
  }
  if (__get_cpuid_count(kLeafFeatures, 1, &eax, &ebx, &ecx, &edx)) {
    cpu.avx512_bf16 = (eax & kEaxAvx512Bf16) != 0;
  }
  return cpu;
}
#else
CpuBf16Support ReadCpuid() { return {}; }
#endif

}  // namespace

StatusOr<DtypeChoice> ParseDtypeChoice(const std::string& text, const char* field) {
  if (text == "auto") return DtypeChoice::kAuto;
  if (text == "bfloat16" || text == "bf16") return DtypeChoice::kBFloat16;
  if (text == "float32" || text == "fp32") return DtypeChoice::kFloat32;
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be auto, bfloat16 or float32, got \"", text, "\""));
}

CpuBf16Support DetectCpuBf16() {
  if (const char* env = std::getenv("DUET_CPU_BF16"); env != nullptr && *env != '\0') {
    const bool on = std::strcmp(env, "0") != 0;
    return CpuBf16Support{on, on};
  }
  static const CpuBf16Support cpu = ReadCpuid();
  return cpu;
}

c10::ScalarType ResolveDtype(DtypeChoice choice, const CpuBf16Support& cpu) {
  switch (choice) {
    case DtypeChoice::kBFloat16:
      return c10::kBFloat16;
    case DtypeChoice::kFloat32:
      return c10::kFloat;
    case DtypeChoice::kAuto:
      break;
  }
  return cpu.any() ? c10::kBFloat16 : c10::kFloat;
}

std::string DtypeName(c10::ScalarType dtype) {
  return dtype == c10::kBFloat16 ? "bfloat16" : dtype == c10::kFloat ? "float32"
                                                                            : std::string(c10::toString(dtype));
}

void LogDtypeChoice(const char* who, DtypeChoice choice, c10::ScalarType dtype) {
  const CpuBf16Support cpu = DetectCpuBf16();
  const char* why = choice != DtypeChoice::kAuto ? "as asked"
                    : cpu.amx_bf16               ? "auto; CPU has AMX-BF16"
                    : cpu.avx512_bf16            ? "auto; CPU has AVX512-BF16"
                                                 : "auto; CPU has no bf16 instructions";
  DUET_LOG(INFO) << who << ": computing in " << DtypeName(dtype) << " (" << why << ")";
}

StatusOr<c10::ScalarType> ChooseDtype(const std::string& text, const char* field,
                                      const char* who) {
  DUET_ASSIGN_OR_RETURN(const DtypeChoice choice, ParseDtypeChoice(text, field));
  const c10::ScalarType dtype = ResolveDtype(choice);
  LogDtypeChoice(who, choice, dtype);
  return dtype;
}

}  // namespace duet
