// bfloat16 helpers for the attention tests: an independent round-to-nearest-even and bf16 copies
// of a Problem's data (tests/kernels/attention_test_util.h), shared by the bf16 and decode tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/attention.h"
#include "tests/kernels/attention_test_util.h"

namespace duet::kernels::testing {

constexpr uint16_t kBf16NaN = 0x7fc0;  // poison: any output element left unwritten reads as NaN

inline float Bf16BitsToFloat(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &wide, sizeof(f));
  return f;
}

// Round to nearest even, written independently of the kernel's bit trick: of the two bf16
// neighbours of |x| (truncated, and one bf16 ulp above), take the nearer, the even one on ties.
// The ulp is taken in double, so values past the largest bf16 by half an ulp overflow to inf.
inline uint16_t RoundToBf16Bits(float x) {
  if (std::isnan(x)) return kBf16NaN;
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  const uint16_t down = static_cast<uint16_t>(bits >> 16);
  if (std::isinf(x)) return down;
  const int exponent_field = (down >> 7) & 0xff;
  const double ulp = std::ldexp(1.0, std::max(exponent_field, 1) - 127 - 7);
  const double down_magnitude = std::fabs(double{Bf16BitsToFloat(down)});
  const double to_down = std::fabs(double{x}) - down_magnitude;
  const double to_up = down_magnitude + ulp - std::fabs(double{x});
  const uint16_t up = static_cast<uint16_t>(down + 1);
  if (to_down != to_up) return to_down < to_up ? down : up;
  return (down & 1) ? up : down;
}

inline std::vector<float> ToFloats(const std::vector<uint16_t>& bits) {
  std::vector<float> out(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) out[i] = Bf16BitsToFloat(bits[i]);
  return out;
}

// Raw bf16 copies of a problem's q, k, v.
struct Bf16Data {
  std::vector<uint16_t> q, k, v;
};

// Rounds p's q, k, v to bf16 in place (so every reference sees exactly the values the kernel
// reads; NaN padding stays NaN) and returns the bf16 copies.
inline Bf16Data RoundToBf16(Problem& p) {
  Bf16Data data;
  for (auto [values, bits] : {std::pair{&p.q, &data.q}, {&p.k, &data.k}, {&p.v, &data.v}}) {
    bits->resize(values->size());
    for (size_t i = 0; i < values->size(); ++i) {
      (*bits)[i] = RoundToBf16Bits((*values)[i]);
      (*values)[i] = Bf16BitsToFloat((*bits)[i]);
    }
  }
  return data;
}

inline AttentionArgs Bf16Args(const Problem& p, const Bf16Data& data, uint16_t* out) {
  AttentionArgs a = p.Args(nullptr);
  a.q = data.q.data();
  a.k = data.k.data();
  a.v = data.v.data();
  a.out = out;
  a.dtype = ElementType::kBF16;
  return a;
}

inline bool IsPrefill(const Problem& p) { return p.q_start == 0 && p.q_len == p.kv_len; }

inline absl::Status RunAttention(const AttentionArgs& args, bool prefill) {
  return prefill ? AttentionPrefill(args) : AttentionDecode(args);
}

// Output bytes of one call, bf16 or float32, on p's values after rounding them to bf16 in place.
inline std::vector<unsigned char> OutputBytes(Problem& p, ElementType dtype) {
  const Bf16Data data = RoundToBf16(p);
  std::vector<unsigned char> bytes;
  if (dtype == ElementType::kBF16) {
    std::vector<uint16_t> out(p.OutSize(), kBf16NaN);
    EXPECT_TRUE(RunAttention(Bf16Args(p, data, out.data()), IsPrefill(p)).ok());
    bytes.resize(out.size() * sizeof(uint16_t));
    std::memcpy(bytes.data(), out.data(), bytes.size());
  } else {
    std::vector<float> out(p.OutSize(), NAN);
    EXPECT_TRUE(RunAttention(p.Args(out.data()), IsPrefill(p)).ok());
    bytes.resize(out.size() * sizeof(float));
    std::memcpy(bytes.data(), out.data(), bytes.size());
  }
  return bytes;
}

// Each of `rows` of `full`, run alone, gives exactly the bytes it has in `all`, the output of the
// whole batch (OutputBytes(full, dtype)). `context` names the case in failure messages.
inline void ExpectRowsAloneMatchBatch(const Problem& full, ElementType dtype,
                                      const std::vector<unsigned char>& all,
                                      const std::vector<int64_t>& rows, const std::string& context) {
  const size_t row_bytes = all.size() / static_cast<size_t>(full.batch);
  for (int64_t b : rows) {
    Problem row = BatchRow(full, b);
    const std::vector<unsigned char> alone = OutputBytes(row, dtype);
    ASSERT_EQ(alone.size(), row_bytes) << context;
    EXPECT_EQ(std::memcmp(alone.data(), all.data() + b * row_bytes, row_bytes), 0)
        << "dtype " << static_cast<int>(dtype) << " " << context << " b " << b;
  }
}

}  // namespace duet::kernels::testing
