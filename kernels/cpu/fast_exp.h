// A branch-free float 2^x that compilers auto-vectorise (std::exp2 is a libm call per element).
// Used by the fused CPU attention's softmax; accurate to a few float ulps for x in [-126, 0].
#pragma once

#include <cstdint>
#include <cstring>

namespace duet::kernels {

// Taylor coefficients of 2^f = exp(f ln2): ln2^n / n!. With |f| <= 1/2 the degree-7 truncation
// error is (ln2 / 2)^8 / 8! ~ 5e-9, below float rounding.
constexpr float kLn2 = 0.693147180559945309f;
constexpr float kExp2Coeff[8] = {1.f,
                                 kLn2,
                                 kLn2* kLn2 / 2,
                                 kLn2* kLn2* kLn2 / 6,
                                 kLn2* kLn2* kLn2* kLn2 / 24,
                                 kLn2* kLn2* kLn2* kLn2* kLn2 / 120,
                                 kLn2* kLn2* kLn2* kLn2* kLn2* kLn2 / 720,
                                 kLn2* kLn2* kLn2* kLn2* kLn2* kLn2* kLn2 / 5040};

// 2^x for x <= 0 (softmax arguments); returns 0 for x < -126, including -inf. Larger x is not
// supported (the exponent would overflow).
inline float FastExp2(float x) {
  constexpr float kMinExponent = -126.f;
  constexpr float kRoundMagic = 12582912.f;  // 1.5 * 2^23: (y + magic) - magic rounds y to int.
  const float clamped = x < kMinExponent ? kMinExponent : x;
  const float n = (clamped + kRoundMagic) - kRoundMagic;
  const float f = clamped - n;  // in [-1/2, 1/2]
  float poly = kExp2Coeff[7];
  for (int i = 6; i >= 0; --i) poly = poly * f + kExp2Coeff[i];
  const int32_t exponent_bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &exponent_bits, sizeof(scale));
  return x < kMinExponent ? 0.f : poly * scale;
}

}  // namespace duet::kernels
