// Tests of the fused CPU attention on bfloat16 q, k, v and out (float32 accumulation inside).
// Bar: error vs float64 on the same bf16 inputs <= 2x a naive bf16 version's + kAbsoluteSlack.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/attention.h"
#include "kernels/cpu/attention_cpu.h"
#include "kernels/cpu/element_types.h"
#include "kernels/cpu/thread_pool.h"
#include "tests/kernels/attention_test_util.h"
#include "tests/kernels/bf16_test_util.h"

namespace duet::kernels {
namespace {

using testing::BatchRow;
using testing::Bf16Args;
using testing::Bf16BitsToFloat;
using testing::Bf16Data;
using testing::IsPrefill;
using testing::kBf16NaN;
using testing::MaxAbsError;
using testing::OutputBytes;
using testing::Problem;
using testing::ReferenceF64;
using testing::RoundToBf16;
using testing::RoundToBf16Bits;
using testing::RunAttention;
using testing::ToFloats;

// The naive version's error is dominated by rounding the output to bf16 (half an ulp, 2^-9
// relative); the slack only matters where that error is ~0 (e.g. one visible key, out == v). It
// is 1/400 of a bf16 ulp at 1.0, far below anything bf16 could resolve.
constexpr double kAbsoluteSlack = 1e-5;
// Prefill of length t, or (q_len > 0) decode of q_len rows against a NaN-padded cache of t keys.
Problem MakeProblem(int64_t batch, int64_t heads, int64_t t, int64_t d, int64_t prefix_len,
                    int64_t window, int64_t decode_rows, uint32_t seed) {
  constexpr int64_t kCapacityPadding = 5;
  return decode_rows > 0 ? Problem::Decode(batch, heads, t, d, prefix_len, window, decode_rows,
                                           kCapacityPadding, seed)
                         : Problem::Prefill(batch, heads, t, d, prefix_len, window, seed);
}

// (decode rows: 0 = prefill, T, prefix kind, window kind, D). Prefix kinds: 0, 1, T/3, T.
// Window kinds: 0, 1, 5, T + 3. Batch 3 with prefix_valid = P, P/2, P/4.
using Bf16Param = std::tuple<int64_t, int64_t, int, int, int64_t>;

class Bf16SweepTest : public ::testing::TestWithParam<Bf16Param> {};

TEST_P(Bf16SweepTest, WithinTwiceNaiveBf16ErrorOfFloat64) {
  const auto [decode_rows, t, prefix_kind, window_kind, d] = GetParam();
  const int64_t prefix_len[] = {0, 1, t / 3, t};
  const int64_t window[] = {0, 1, 5, t + 3};
  Problem p = MakeProblem(3, 2, t, d, prefix_len[prefix_kind], window[window_kind], decode_rows,
                          /*seed=*/static_cast<uint32_t>(t * d + decode_rows));
  const Bf16Data data = RoundToBf16(p);
  const std::vector<double> want = ReferenceF64(p);

  // Naive bf16: the float32 reference on the same bf16 values, output rounded to bf16.
  std::vector<float> naive(p.OutSize());
  ASSERT_TRUE(AttentionReference(p.Args(naive.data())).ok());
  for (float& x : naive) x = Bf16BitsToFloat(RoundToBf16Bits(x));

  std::vector<uint16_t> fused(p.OutSize(), kBf16NaN);
  ASSERT_TRUE(RunAttention(Bf16Args(p, data, fused.data()), IsPrefill(p)).ok());

  const double naive_error = MaxAbsError(naive, want);
  EXPECT_LE(MaxAbsError(ToFloats(fused), want), 2 * naive_error + kAbsoluteSlack)
      << "naive bf16 error " << naive_error;
}

INSTANTIATE_TEST_SUITE_P(OddSizes, Bf16SweepTest,
                         ::testing::Combine(::testing::Values(0, 1, 3),
                                            ::testing::Values(1, 7, 33, 130),
                                            ::testing::Values(0, 1, 2, 3),
                                            ::testing::Values(0, 1, 2, 3),
                                            ::testing::Values(40, 64, 128)));

// bf16 -> float32 is exact and each path (tile; decode for q_len <= kCpuDecodeMaxRows) runs the
// same float32 math in the same order for both element types, so the bf16 kernel equals the float32
// kernel on the same values, rounded once at the end. A lossy conversion, an extra rounding of an
// intermediate or a wrong V block would break this. Decode rows 1, 2 and 4 run the decode path,
// 0 (prefill) and 5 the tile path; D 24 and 40 leave a tail past the decode path's pair blocks.
TEST(Bf16AttentionTest, EqualsFloat32KernelRoundedOnce) {
  for (int64_t d : {24, 40, 64, 128}) {
    for (int64_t decode_rows : {0, 1, 2, 4, 5}) {
      Problem p = MakeProblem(2, 2, 300, d, /*prefix_len=*/70, /*window=*/90, decode_rows, 13);
      const Bf16Data data = RoundToBf16(p);
      std::vector<float> f32(p.OutSize());
      ASSERT_TRUE(RunAttention(p.Args(f32.data()), IsPrefill(p)).ok());
      std::vector<uint16_t> bf16(p.OutSize(), kBf16NaN);
      ASSERT_TRUE(RunAttention(Bf16Args(p, data, bf16.data()), IsPrefill(p)).ok());
      int64_t mismatches = 0;
      for (size_t i = 0; i < f32.size(); ++i) mismatches += bf16[i] != RoundToBf16Bits(f32[i]);
      EXPECT_EQ(mismatches, 0) << "D " << d << " decode rows " << decode_rows;
    }
  }
}

// Two keys with equal scores (q = 0, all keys bidirectional prefix): out = (v0 + v1) / 2 exactly
// in float32, a bf16 halfway case. Ties go to the even bf16, which truncation or round-half-away
// would each get wrong in one of the two columns.
TEST(Bf16AttentionTest, OutputRoundsHalfwayToEven) {
  for (int64_t d : {8, 64}) {
    Problem p = Problem::Prefill(1, 1, /*t=*/2, d, /*prefix_len=*/2, /*window=*/0, 1);
    std::fill(p.q.begin(), p.q.end(), 0.f);
    const float step = std::ldexp(1.f, -7);  // one bf16 ulp in [1, 2)
    for (int64_t c = 0; c < d; ++c) {
      const float base = c % 2 == 0 ? 1.f : 1.f + step;  // even, then odd lower neighbour
      p.v[c] = base;
      p.v[d + c] = base + step;
    }
    const Bf16Data data = RoundToBf16(p);
    std::vector<uint16_t> out(p.OutSize(), kBf16NaN);
    ASSERT_TRUE(AttentionPrefill(Bf16Args(p, data, out.data())).ok());
    for (int64_t row = 0; row < 2; ++row) {
      EXPECT_EQ(Bf16BitsToFloat(out[row * d + 0]), 1.f) << "D " << d;
      EXPECT_EQ(Bf16BitsToFloat(out[row * d + 1]), 1.f + 2 * step) << "D " << d;
    }
  }
}

TEST(Bf16AttentionTest, KernelConversionMatchesIndependentRounding) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<uint32_t> any_bits;
  std::vector<float> values = {0.f,     -0.f,     1.f,    -2.5f,    3.39e38f,
                               3.4e38f, -3.4e38f, 1e-40f, INFINITY, -INFINITY};
  for (int i = 0; i < 100000; ++i) {
    const uint32_t bits = any_bits(rng);
    float x;
    std::memcpy(&x, &bits, sizeof(x));
    if (!std::isnan(x)) values.push_back(x);
  }
  for (float x : values) {
    const cpu_tile::Bf16 got = cpu_tile::FromFloat<cpu_tile::Bf16>(x);
    ASSERT_EQ(got.bits, RoundToBf16Bits(x)) << x;
    ASSERT_EQ(cpu_tile::ToFloat(got), Bf16BitsToFloat(got.bits));
  }
  EXPECT_TRUE(std::isnan(cpu_tile::ToFloat(cpu_tile::FromFloat<cpu_tile::Bf16>(NAN))));
}

// Each row's output is bitwise the same alone (batch 1) as among 7 rows with other prefix_valid.
// One head: prefill T = 40 runs batch 1 on the calling thread and batch 7 on the pool; T = 200
// uses the pool for both; decode stays on the calling thread.
TEST(Bf16AttentionTest, BatchRowIsBitwiseIndependentOfBatchSize) {
  for (ElementType dtype : {ElementType::kBF16, ElementType::kF32}) {
    for (auto [t, decode_rows] : {std::pair<int64_t, int64_t>{40, 0}, {200, 0}, {200, 3}}) {
      Problem full =
          MakeProblem(7, 1, t, 64, /*prefix_len=*/t / 2, /*window=*/t / 2, decode_rows, 21);
      if (t == 40 && decode_rows == 0 && CpuKernelThreads() > 1) {  // premise: serial vs pool
        EXPECT_LT(AttentionCpuScratchBytes(BatchRow(full, 0).Args(nullptr)),
                  AttentionCpuScratchBytes(full.Args(nullptr)));
      }
      std::vector<int64_t> rows(static_cast<size_t>(full.batch));
      for (int64_t b = 0; b < full.batch; ++b) rows[b] = b;
      testing::ExpectRowsAloneMatchBatch(
          full, dtype, OutputBytes(full, dtype), rows,
          "T " + std::to_string(t) + " decode rows " + std::to_string(decode_rows));
    }
  }
}

TEST(Bf16AttentionTest, RepeatedAndConcurrentCallsAreBitIdentical) {
  Problem p = Problem::Prefill(2, 4, 300, 64, /*prefix_len=*/50, /*window=*/0, 5);
  const Bf16Data data = RoundToBf16(p);
  std::vector<uint16_t> first(p.OutSize(), kBf16NaN);
  ASSERT_TRUE(AttentionCpu(Bf16Args(p, data, first.data())).ok());
  std::vector<std::vector<uint16_t>> outs(5, std::vector<uint16_t>(p.OutSize(), kBf16NaN));
  ASSERT_TRUE(AttentionCpu(Bf16Args(p, data, outs[0].data())).ok());
  std::vector<std::thread> callers;
  for (size_t i = 1; i < outs.size(); ++i) {
    callers.emplace_back(
        [&, i] { EXPECT_TRUE(AttentionCpu(Bf16Args(p, data, outs[i].data())).ok()); });
  }
  for (auto& c : callers) c.join();
  for (const auto& out : outs) EXPECT_EQ(out, first);
}

TEST(Bf16AttentionTest, Float16IsRejectedOnCpu) {
  Problem p = Problem::Prefill(1, 1, 4, 16, 0, 0, 1);
  std::vector<uint16_t> q(p.q.size()), kv(p.k.size()), out(p.OutSize());
  AttentionArgs a = p.Args(nullptr);
  a.q = q.data();
  a.k = a.v = kv.data();
  a.out = out.data();
  a.dtype = ElementType::kF16;
  for (const absl::Status& s : {AttentionPrefill(a), AttentionDecode(a), AttentionCpu(a)}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(s.message()).find("kF16"), std::string::npos) << s.message();
  }
}

TEST(Bf16AttentionTest, ScratchAddsOneValueTile) {
  Problem p = Problem::Prefill(1, 1, 64, 64, 0, 0, 1);
  AttentionArgs a = p.Args(nullptr);
  const int64_t f32_bytes = AttentionCpuScratchBytes(a);
  a.dtype = ElementType::kBF16;
  EXPECT_EQ(AttentionCpuScratchBytes(a) - f32_bytes, 64 * 64 * 4);  // kBlockK x D floats
}

}  // namespace
}  // namespace duet::kernels
