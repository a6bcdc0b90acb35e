// Tests of the fused CPU attention against a float64 reference, over odd sizes and every mask kind.
// The bar (CONVENTIONS.md): fused error <= 2x the float32 AttentionReference error + 1e-6.
#include "kernels/cpu/attention_cpu.h"

#include <cmath>
#include <limits>
#include <thread>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/attention.h"
#include "tests/kernels/attention_test_util.h"

namespace duet::kernels {
namespace {

using testing::MaxAbsError;
using testing::Problem;
using testing::ReferenceF64;

constexpr double kAbsoluteSlack = 1e-6;
constexpr float kPoison = std::numeric_limits<float>::quiet_NaN();

// (T, prefix kind, window kind, D). Prefix kinds: 0, 1, T/3, T. Window kinds: 0, 1, 5, T + 3, and
// 5 with a global prefix.
using SweepParam = std::tuple<int64_t, int, int, int64_t>;

class FusedSweepTest : public ::testing::TestWithParam<SweepParam> {};

TEST_P(FusedSweepTest, MatchesFloat64WithinTwiceReferenceError) {
  const auto [t, prefix_kind, window_kind, d] = GetParam();
  const int64_t prefix_len[] = {0, 1, t / 3, t};
  const int64_t window[] = {0, 1, 5, t + 3, 5};
  Problem p = Problem::Prefill(/*batch=*/3, /*heads=*/2, t, d, prefix_len[prefix_kind],
                               window[window_kind], /*seed=*/static_cast<uint32_t>(t * d));
  p.mask.global_prefix = window_kind == 4;
  const std::vector<double> want = ReferenceF64(p);

  std::vector<float> reference(p.OutSize(), kPoison);
  ASSERT_TRUE(AttentionReference(p.Args(reference.data())).ok());
  std::vector<float> fused(p.OutSize(), kPoison);  // NaN left anywhere fails MaxAbsError
  ASSERT_TRUE(AttentionPrefill(p.Args(fused.data())).ok());

  const double reference_error = MaxAbsError(reference, want);
  EXPECT_LE(MaxAbsError(fused, want), 2 * reference_error + kAbsoluteSlack)
      << "reference error " << reference_error;
}

INSTANTIATE_TEST_SUITE_P(OddSizes, FusedSweepTest,
                         ::testing::Combine(::testing::Values(1, 7, 33, 130),
                                            ::testing::Values(0, 1, 2, 3),
                                            ::testing::Values(0, 1, 2, 3, 4),
                                            ::testing::Values(16, 64, 128)));

TEST(FusedAttentionTest, LargeCausalAndWindowUseThePoolAndMatch) {
  for (int64_t window : {0, 128}) {
    const Problem p = Problem::Prefill(1, 4, 700, 64, /*prefix_len=*/0, window, /*seed=*/7);
    std::vector<float> reference(p.OutSize()), fused(p.OutSize(), kPoison);
    ASSERT_TRUE(AttentionReference(p.Args(reference.data())).ok());
    ASSERT_TRUE(AttentionCpu(p.Args(fused.data())).ok());
    const std::vector<double> want = ReferenceF64(p);
    EXPECT_LE(MaxAbsError(fused, want), 2 * MaxAbsError(reference, want) + kAbsoluteSlack);
  }
}

TEST(FusedAttentionTest, RowsWithNoVisibleKeyAreZero) {
  // All prefix positions are padding: prefix queries see nothing, target queries see the target.
  Problem p = Problem::Prefill(1, 1, 9, 16, /*prefix_len=*/4, /*window=*/0, /*seed=*/3);
  p.prefix_valid = {0};
  std::vector<float> out(p.OutSize(), kPoison);
  ASSERT_TRUE(AttentionPrefill(p.Args(out.data())).ok());
  for (int64_t i = 0; i < p.q_len; ++i) {
    for (int64_t d = 0; d < p.head_dim; ++d) {
      const float x = out[i * p.head_dim + d];
      if (i < 4) {
        EXPECT_EQ(x, 0.f) << "row " << i;
      } else {
        EXPECT_TRUE(std::isfinite(x)) << "row " << i;
      }
    }
  }
  EXPECT_LE(MaxAbsError(out, ReferenceF64(p)), 1e-5);
}

// Decode rows (q_start = kv_len - q_len, cache padded past kv_len with NaN) equal the last rows
// of a prefill over the same sequence.
TEST(FusedAttentionTest, DecodeEqualsMatchingPrefillRows) {
  for (int64_t q_len : {1, 2, 3}) {
    for (int64_t window : {0, 5, 64}) {
      const int64_t kv_len = 97;
      Problem full = Problem::Prefill(2, 2, kv_len, 64, /*prefix_len=*/20, window, /*seed=*/11);
      Problem step = full;
      step.q_len = q_len;
      step.q_start = kv_len - q_len;
      step.kv_capacity = kv_len + 13;
      step.Fill(0);  // NaN past kv_len; the real rows are copied from `full` below.
      for (int64_t bh = 0; bh < full.batch * full.heads; ++bh) {
        for (int64_t i = 0; i < q_len * 64; ++i) {
          step.q[bh * q_len * 64 + i] = full.q[(bh * kv_len + step.q_start) * 64 + i];
        }
        for (int64_t i = 0; i < kv_len * 64; ++i) {
          step.k[bh * step.kv_capacity * 64 + i] = full.k[bh * kv_len * 64 + i];
          step.v[bh * step.kv_capacity * 64 + i] = full.v[bh * kv_len * 64 + i];
        }
      }
      std::vector<float> prefill(full.OutSize()), decode(step.OutSize(), kPoison);
      ASSERT_TRUE(AttentionPrefill(full.Args(prefill.data())).ok());
      ASSERT_TRUE(AttentionDecode(step.Args(decode.data())).ok());
      for (int64_t bh = 0; bh < full.batch * full.heads; ++bh) {
        for (int64_t i = 0; i < q_len * 64; ++i) {
          EXPECT_NEAR(decode[bh * q_len * 64 + i], prefill[(bh * kv_len + step.q_start) * 64 + i],
                      1e-5)
              << "q_len " << q_len << " window " << window << " bh " << bh;
        }
      }
      EXPECT_LE(MaxAbsError(decode, ReferenceF64(step)), 1e-5);
    }
  }
}

TEST(FusedAttentionTest, ConcurrentCallersGetIdenticalResults) {
  const Problem p = Problem::Prefill(2, 4, 300, 64, /*prefix_len=*/50, /*window=*/0, 5);
  std::vector<float> serial(p.OutSize());
  ASSERT_TRUE(AttentionCpu(p.Args(serial.data())).ok());
  std::vector<std::vector<float>> outs(4, std::vector<float>(p.OutSize(), kPoison));
  std::vector<std::thread> callers;
  for (auto& out : outs) {
    callers.emplace_back([&p, &out] { EXPECT_TRUE(AttentionCpu(p.Args(out.data())).ok()); });
  }
  for (auto& c : callers) c.join();
  for (const auto& out : outs) EXPECT_EQ(out, serial);
}

TEST(FusedAttentionTest, ScratchIsIndependentOfSequenceLength) {
  Problem p = Problem::Prefill(1, 4, 64, 64, 0, 0, 1);
  float dummy = 0;
  const int64_t short_bytes = AttentionCpuScratchBytes(p.Args(&dummy));
  p.q_len = p.kv_len = p.kv_capacity = 4096;
  const int64_t long_bytes = AttentionCpuScratchBytes(p.Args(&dummy));
  EXPECT_GT(short_bytes, 0);
  EXPECT_LT(long_bytes, 4096 * 4096 * 4 / 64);  // far below one T x T score matrix
}

}  // namespace
}  // namespace duet::kernels
