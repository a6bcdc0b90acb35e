// Tests of the fused CPU attention's decode path (q_len <= kCpuDecodeMaxRows: each row reads K and
// V in place), float32 and bfloat16, against a float64 reference. Bars as the other CPU tests:
// float32 error <= 2x AttentionReference's + 1e-6; bf16 error <= 2x a naive bf16 version's + 1e-5.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/attention.h"
#include "kernels/cpu/attention_cpu.h"
#include "kernels/cpu/thread_pool.h"
#include "tests/kernels/attention_test_util.h"
#include "tests/kernels/bf16_test_util.h"

namespace duet::kernels {
namespace {

using testing::BatchRow;
using testing::Bf16Args;
using testing::Bf16BitsToFloat;
using testing::kBf16NaN;
using testing::MaxAbsError;
using testing::OutputBytes;
using testing::Problem;
using testing::ReferenceF64;
using testing::RoundToBf16;
using testing::RoundToBf16Bits;
using testing::ToFloats;

constexpr double kF32Slack = 1e-6;
constexpr double kBf16Slack = 1e-5;
constexpr float kPoison = std::numeric_limits<float>::quiet_NaN();
constexpr int64_t kCapacityPadding = 7;  // cache slots past kv_len, filled with NaN

// q_len rows at the end of kv_len keys, in a cache of kv_len + kCapacityPadding slots; batch row b
// has prefix_valid = prefix_len >> b.
Problem DecodeProblem(int64_t batch, int64_t heads, int64_t kv_len, int64_t d, int64_t prefix_len,
                      int64_t window, int64_t q_len, uint32_t seed) {
  return Problem::Decode(batch, heads, kv_len, d, prefix_len, window, q_len, kCapacityPadding,
                         seed);
}

// (q_len, kv_len, prefix kind, window kind, D). Prefix kinds: 0, 1, kv/3, kv (every query in the
// prefix). Window kinds: 0, 1, 5, 32, and 5 with a global prefix. kv_len 200 spans several 64-key
// chunks (online rescale); D 7 has no pair block, 40 a tail of 8, 64 and 128 the register-blocked
// P V.
using DecodeParam = std::tuple<int64_t, int64_t, int, int, int64_t>;

class DecodeSweepTest : public ::testing::TestWithParam<DecodeParam> {};

TEST_P(DecodeSweepTest, Float32AndBf16WithinTwiceNaiveErrorOfFloat64) {
  const auto [q_len, kv_len, prefix_kind, window_kind, d] = GetParam();
  const int64_t prefix_len[] = {0, 1, kv_len / 3, kv_len};
  const int64_t window[] = {0, 1, 5, 32, 5};
  const auto seed = static_cast<uint32_t>(kv_len * d + q_len);
  Problem p =
      DecodeProblem(3, 2, kv_len, d, prefix_len[prefix_kind], window[window_kind], q_len, seed);
  p.mask.global_prefix = window_kind == 4;

  const std::vector<double> want = ReferenceF64(p);
  std::vector<float> reference(p.OutSize(), kPoison);
  ASSERT_TRUE(AttentionReference(p.Args(reference.data())).ok());
  std::vector<float> fused(p.OutSize(), kPoison);  // NaN left anywhere fails MaxAbsError
  ASSERT_TRUE(AttentionDecode(p.Args(fused.data())).ok());
  const double reference_error = MaxAbsError(reference, want);
  EXPECT_LE(MaxAbsError(fused, want), 2 * reference_error + kF32Slack)
      << "float32; reference error " << reference_error;

  const testing::Bf16Data data = RoundToBf16(p);  // p now holds the bf16 values
  const std::vector<double> want_bf16 = ReferenceF64(p);
  std::vector<float> naive(p.OutSize());
  ASSERT_TRUE(AttentionReference(p.Args(naive.data())).ok());
  for (float& x : naive) x = Bf16BitsToFloat(RoundToBf16Bits(x));
  std::vector<uint16_t> fused_bf16(p.OutSize(), kBf16NaN);
  ASSERT_TRUE(AttentionDecode(Bf16Args(p, data, fused_bf16.data())).ok());
  const double naive_error = MaxAbsError(naive, want_bf16);
  EXPECT_LE(MaxAbsError(ToFloats(fused_bf16), want_bf16), 2 * naive_error + kBf16Slack)
      << "bf16; naive bf16 error " << naive_error;
}

// q_len 1 and kCpuDecodeMaxRows take the decode path, kCpuDecodeMaxRows + 1 the tile path.
INSTANTIATE_TEST_SUITE_P(
    OddSizes, DecodeSweepTest,
    ::testing::Combine(::testing::Values(1, kCpuDecodeMaxRows, kCpuDecodeMaxRows + 1),
                       ::testing::Values(1, 9, 97, 200), ::testing::Values(0, 1, 2, 3),
                       ::testing::Values(0, 1, 2, 3, 4), ::testing::Values(7, 40, 64, 128)));

// Sets every K and V element of keys that no query row of p may see (prefix padding, outside the
// window, past kv_len) to NaN.
void PoisonInvisibleKeys(Problem& p) {
  for (int64_t bh = 0; bh < p.batch * p.heads; ++bh) {
    for (int64_t j = 0; j < p.kv_capacity; ++j) {
      bool visible = false;
      for (int64_t i = 0; i < p.q_len && j < p.kv_len; ++i) {
        visible |= MaskAllows(p.mask, p.Valid(bh / p.heads), p.q_start + i, j);
      }
      if (visible) continue;
      const int64_t first = (bh * p.kv_capacity + j) * p.head_dim;
      std::fill(p.k.begin() + first, p.k.begin() + first + p.head_dim, kPoison);
      std::fill(p.v.begin() + first, p.v.begin() + first + p.head_dim, kPoison);
    }
  }
}

// The decode path reads only visible keys: poisoning all others changes no output bit.
TEST(DecodePathTest, InvisibleKeysAreNeverRead) {
  for (ElementType dtype : {ElementType::kF32, ElementType::kBF16}) {
    for (int64_t q_len : {int64_t{1}, kCpuDecodeMaxRows}) {
      for (int64_t window : {0, 5, 32}) {
        Problem clean = DecodeProblem(3, 2, 97, 64, /*prefix_len=*/20, window, q_len, 17);
        Problem poisoned = clean;
        PoisonInvisibleKeys(poisoned);
        const std::vector<unsigned char> want = OutputBytes(clean, dtype);
        const std::vector<unsigned char> got = OutputBytes(poisoned, dtype);
        EXPECT_EQ(got, want) << "dtype " << static_cast<int>(dtype) << " q_len " << q_len
                             << " window " << window;
      }
    }
  }
}

// A query whose prefix is all padding (prefix_valid 0, every key in the prefix) sees nothing and
// is written as zeros; a row of the same call with valid keys is not.
TEST(DecodePathTest, RowsWithNoVisibleKeyAreZero) {
  Problem p = DecodeProblem(2, 1, /*kv_len=*/9, 64, /*prefix_len=*/9, /*window=*/0, 1, 3);
  p.prefix_valid = {0, 4};
  std::vector<float> out(p.OutSize(), kPoison);
  ASSERT_TRUE(AttentionDecode(p.Args(out.data())).ok());
  for (int64_t d = 0; d < p.head_dim; ++d) EXPECT_EQ(out[d], 0.f) << d;
  EXPECT_LE(MaxAbsError(out, ReferenceF64(p)), 1e-5);
  EXPECT_NE(out[p.head_dim], 0.f);

  const testing::Bf16Data data = RoundToBf16(p);
  std::vector<uint16_t> out_bf16(p.OutSize(), kBf16NaN);
  ASSERT_TRUE(AttentionDecode(Bf16Args(p, data, out_bf16.data())).ok());
  for (int64_t d = 0; d < p.head_dim; ++d) EXPECT_EQ(out_bf16[d], 0) << d;
}

// Sets the OpenMP thread count of the calling thread for a scope.
class ScopedOmpThreads {
 public:
  explicit ScopedOmpThreads(int threads) : saved_(omp_get_max_threads()) {
    omp_set_num_threads(threads);
  }
  ~ScopedOmpThreads() { omp_set_num_threads(saved_); }

 private:
  int saved_;
};

// The drafter's decode shape (smaller batch): batch 300, 2 heads, D 64, 96 keys of which 32 are a
// prefix with real lengths 20..32. A row's output is bitwise the same alone (batch 1, the calling
// thread) as in the batch of 300 on 1 thread and on 3 (tasks of several slices on the pool).
TEST(DecodePathTest, BitwiseIndependentOfBatchSizeAndThreads) {
  constexpr int64_t kBatch = 300;
  for (ElementType dtype : {ElementType::kF32, ElementType::kBF16}) {
    for (int64_t q_len : {int64_t{1}, kCpuDecodeMaxRows}) {
      for (int64_t window : {0, 32}) {
        Problem full =
            DecodeProblem(kBatch, 2, /*kv_len=*/96, 64, /*prefix_len=*/32, window, q_len, 29);
        for (int64_t b = 0; b < kBatch; ++b) full.prefix_valid[b] = 20 + b % 13;
        std::vector<unsigned char> one_thread, three_threads;
        {
          ScopedOmpThreads threads(1);
          one_thread = OutputBytes(full, dtype);
        }
        {
          ScopedOmpThreads threads(3);
          if (CpuKernelThreads() == 3) {  // premise: the pool runs the batch, not batch 1
            EXPECT_GT(AttentionCpuScratchBytes(full.Args(nullptr)),
                      AttentionCpuScratchBytes(BatchRow(full, 0).Args(nullptr)));
          }
          three_threads = OutputBytes(full, dtype);
        }
        ASSERT_EQ(one_thread, three_threads) << "q_len " << q_len << " window " << window;
        testing::ExpectRowsAloneMatchBatch(
            full, dtype, one_thread, {0, 1, 137, 299},
            "q_len " + std::to_string(q_len) + " window " + std::to_string(window));
      }
    }
  }
}

// Decode needs scratch for its query rows per thread (2 D floats each) and one chunk of 64 scores,
// for float32 and bf16 alike.
TEST(DecodePathTest, ScratchIsTheRowsOfOneTilePerThread) {
  for (int64_t q_len : {int64_t{1}, kCpuDecodeMaxRows}) {
    Problem p = DecodeProblem(1, 1, 96, 64, 32, 0, q_len, 1);
    AttentionArgs a = p.Args(nullptr);
    const int64_t want = (2 * q_len * 64 + 64) * static_cast<int64_t>(sizeof(float));
    EXPECT_EQ(AttentionCpuScratchBytes(a), want) << q_len;
    a.dtype = ElementType::kBF16;
    EXPECT_EQ(AttentionCpuScratchBytes(a), want) << q_len;
  }
}

}  // namespace
}  // namespace duet::kernels

namespace duet::kernels {
namespace {

// Continuous batching: rows of one batch at different positions (kv_lens). Each row's output is
// bitwise the output of that row decoded alone at its own position, for the fused kernel in
// float32 and bfloat16 and for the reference.
template <typename T>
std::vector<T> Convert(const std::vector<float>& x) {
  std::vector<T> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    if constexpr (std::is_same_v<T, float>) {
      out[i] = x[i];
    } else {
      uint32_t bits;
      std::memcpy(&bits, &x[i], 4);
      out[i] = static_cast<uint16_t>(bits >> 16);
    }
  }
  return out;
}

template <typename T>
void CheckRowsAtTheirOwnPositions(ElementType dtype, bool reference) {
  constexpr int64_t B = 5, H = 2, D = 64, capacity = 90, q_len = 1;
  const std::vector<int32_t> kv_lens = {1, 40, 33, 90, 64}, valid = {16, 3, 16, 1, 9};
  std::vector<float> qf(B * H * q_len * D), kf(B * H * capacity * D), vf(kf.size());
  uint32_t state = 12345;
  auto next = [&] { state = state * 1664525u + 1013904223u; return (state >> 8) * 0x1p-24f - 0.5f; };
  for (auto* x : {&qf, &kf, &vf}) for (float& f : *x) f = next();
  const std::vector<T> q = Convert<T>(qf), k = Convert<T>(kf), v = Convert<T>(vf);
  AttentionArgs args;
  args.dtype = dtype;
  args.batch = B;
  args.heads = H;
  args.q_len = q_len;
  args.head_dim = D;
  args.kv_len = *std::max_element(kv_lens.begin(), kv_lens.end());
  args.kv_capacity = capacity;
  args.prefix_valid = valid.data();
  args.kv_lens = kv_lens.data();
  args.mask = AttentionMask{16, 24};
  args.scale = 0.125f;
  args.q = q.data(), args.k = k.data(), args.v = v.data();
  std::vector<T> out(q.size());
  args.out = out.data();
  ASSERT_TRUE((reference ? AttentionReference(args) : AttentionDecode(args)).ok());
  for (int64_t b = 0; b < B; ++b) {
    AttentionArgs alone = args;
    alone.batch = 1;
    alone.kv_lens = nullptr;
    alone.kv_len = kv_lens[b];
    alone.q_start = kv_lens[b] - q_len;
    alone.prefix_valid = &valid[b];
    alone.q = q.data() + b * H * q_len * D;
    alone.k = k.data() + b * H * capacity * D;
    alone.v = v.data() + b * H * capacity * D;
    std::vector<T> single(H * q_len * D);
    alone.out = single.data();
    ASSERT_TRUE((reference ? AttentionReference(alone) : AttentionDecode(alone)).ok());
    EXPECT_EQ(std::memcmp(single.data(), out.data() + b * H * q_len * D,
                          single.size() * sizeof(T)), 0) << "row " << b;
  }
}

TEST(AttentionKvLensTest, EachRowEqualsItselfDecodedAlone) {
  CheckRowsAtTheirOwnPositions<float>(ElementType::kF32, /*reference=*/false);
  CheckRowsAtTheirOwnPositions<uint16_t>(ElementType::kBF16, /*reference=*/false);
  CheckRowsAtTheirOwnPositions<float>(ElementType::kF32, /*reference=*/true);
}

TEST(AttentionKvLensTest, LengthsOutsideTheirRangeAreRefusedByName) {
  std::vector<float> buffer(2 * 8 * 4, 0.f);
  const std::vector<int32_t> lens = {3, 9};
  AttentionArgs args;
  args.q = args.k = args.v = buffer.data();
  args.out = buffer.data();
  args.batch = 2, args.heads = 1, args.q_len = 1, args.head_dim = 4, args.kv_len = 8;
  args.kv_lens = lens.data();
  args.scale = 0.5f;
  const absl::Status status = AttentionDecode(args);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "kv_lens[1] must be in [q_len=1, kv_len=8], got 9");
  EXPECT_FALSE(AttentionPrefill(args).ok());
}

}  // namespace
}  // namespace duet::kernels
