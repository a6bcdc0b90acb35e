// Tests of the CUDA attention kernels against the float64 reference on 16-bit-rounded inputs.
// Built only with CUDA; tests that need a device GTEST_SKIP() without one. Argument checks run
// anywhere.
#include "kernels/cuda/attention_cuda.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "tests/kernels/attention_test_util.h"

namespace duet::kernels {
namespace {

using testing::MaxAbsError;
using testing::Problem;
using testing::ReferenceF64;

// Inputs are uniform in [-2, 2]. P is rounded to the element type before P V and the output is
// rounded again: about 4 units of roundoff times max |v|.
double Tolerance(ElementType dtype) { return dtype == ElementType::kF16 ? 4e-3 : 3e-2; }

uint16_t ToBits(float x, ElementType dtype) {
  uint16_t bits;
  if (dtype == ElementType::kF16) {
    const __half h = __float2half_rn(x);
    std::memcpy(&bits, &h, 2);
  } else {
    const __nv_bfloat16 h = __float2bfloat16_rn(x);
    std::memcpy(&bits, &h, 2);
  }
  return bits;
}

float FromBits(uint16_t bits, ElementType dtype) {
  if (dtype == ElementType::kF16) {
    __half h;
    std::memcpy(&h, &bits, 2);
    return __half2float(h);
  }
  __nv_bfloat16 h;
  std::memcpy(&h, &bits, 2);
  return __bfloat162float(h);
}

// Device copy of a vector; freed on destruction.
template <typename T>
struct DeviceArray {
  explicit DeviceArray(const std::vector<T>& host) : size(host.size()) {
    EXPECT_EQ(cudaMalloc(reinterpret_cast<void**>(&ptr), size * sizeof(T)), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(ptr, host.data(), size * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~DeviceArray() { cudaFree(ptr); }
  std::vector<T> ToHost() const {
    std::vector<T> host(size);
    EXPECT_EQ(cudaMemcpy(host.data(), ptr, size * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return host;
  }
  T* ptr = nullptr;
  size_t size = 0;
};

// Rounds p's data to dtype in place (so the float64 reference sees what the GPU sees) and returns
// the 16-bit copy.
std::vector<uint16_t> Round(std::vector<float>& data, ElementType dtype) {
  std::vector<uint16_t> bits(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    bits[i] = ToBits(data[i], dtype);
    data[i] = FromBits(bits[i], dtype);
  }
  return bits;
}

// Runs p on the GPU (prefill or decode per `decode`) and returns the max error vs float64.
double RunOnGpu(Problem p, ElementType dtype, bool decode) {
  DeviceArray<uint16_t> q(Round(p.q, dtype)), k(Round(p.k, dtype)), v(Round(p.v, dtype));
  DeviceArray<uint16_t> out(
      std::vector<uint16_t>(p.OutSize(), 0xFFFF));  // NaN: must be overwritten
  std::vector<int32_t> valid = p.prefix_valid.empty() ? std::vector<int32_t>{0} : p.prefix_valid;
  DeviceArray<int32_t> prefix_valid(valid);
  AttentionArgs args = p.Args(nullptr);
  args.q = q.ptr, args.k = k.ptr, args.v = v.ptr, args.out = out.ptr;
  args.prefix_valid = p.prefix_valid.empty() ? nullptr : prefix_valid.ptr;
  args.dtype = dtype;
  const absl::Status status =
      decode ? AttentionCudaDecode(args, nullptr) : AttentionCudaPrefill(args, nullptr);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<float> got;
  for (uint16_t bits : out.ToHost()) got.push_back(FromBits(bits, dtype));
  return MaxAbsError(got, ReferenceF64(p));
}

// (T, prefix kind 0..3 -> {0, 1, T/3, T}, window kind 0..4 -> {0, 1, 5, T + 3, 5 with a global
// prefix}, D, bf16?)
using GpuParam = std::tuple<int64_t, int, int, int64_t, bool>;
class CudaPrefillTest : public ::testing::TestWithParam<GpuParam> {};

TEST_P(CudaPrefillTest, MatchesFloat64) {
  if (!CudaAttentionAvailable()) GTEST_SKIP() << "no CUDA device";
  const auto [t, prefix_kind, window_kind, d, bf16] = GetParam();
  const int64_t prefix_len[] = {0, 1, t / 3, t};
  const int64_t window[] = {0, 1, 5, t + 3, 5};
  const ElementType dtype = bf16 ? ElementType::kBF16 : ElementType::kF16;
  Problem p = Problem::Prefill(3, 2, t, d, prefix_len[prefix_kind], window[window_kind], 9);
  p.mask.global_prefix = window_kind == 4;
  EXPECT_LE(RunOnGpu(p, dtype, /*decode=*/false), Tolerance(dtype));
}

INSTANTIATE_TEST_SUITE_P(OddSizes, CudaPrefillTest,
                         ::testing::Combine(::testing::Values(1, 7, 33, 130, 300),
                                            ::testing::Values(0, 1, 2, 3),
                                            ::testing::Values(0, 1, 2, 3, 4),
                                            ::testing::Values(64, 128), ::testing::Bool()));

TEST(CudaDecodeTest, MatchesFloat64WithPaddedCacheAndSplits) {
  if (!CudaAttentionAvailable()) GTEST_SKIP() << "no CUDA device";
  for (int64_t q_len : {1, 2, 3, 6}) {  // 6 > kDecodeMaxQueries: served by the prefill kernel
    for (int64_t window : {0, 5, 128}) {
      for (int64_t kv_len : {9, 1000}) {
        Problem p = Problem::Prefill(2, 3, kv_len, 128, /*prefix_len=*/kv_len / 3, window, 4);
        p.q_len = q_len;
        p.q_start = kv_len - q_len;
        p.kv_capacity = kv_len + 17;  // padding holds NaN: never read
        p.Fill(4);
        for (bool bf16 : {false, true}) {
          const ElementType dtype = bf16 ? ElementType::kBF16 : ElementType::kF16;
          EXPECT_LE(RunOnGpu(p, dtype, /*decode=*/true), Tolerance(dtype))
              << "q_len " << q_len << " window " << window << " kv_len " << kv_len;
        }
      }
    }
  }
}

// Continuous batching: rows of one batch at their own positions (device kv_lens). Each row is
// checked against itself decoded alone in float64, and the keys past its own length are NaN, so
// a kernel that read one would fail. q_len 6 is served by the prefill kernel.
TEST(CudaDecodeTest, RowsAtTheirOwnPositionsMatchFloat64) {
  if (!CudaAttentionAvailable()) GTEST_SKIP() << "no CUDA device";
  const std::vector<int32_t> kv_lens = {6, 300, 41, 1000};
  for (int64_t q_len : {1, 3, 6}) {
    for (int64_t window : {0, 64}) {
      for (bool bf16 : {false, true}) {
        const ElementType dtype = bf16 ? ElementType::kBF16 : ElementType::kF16;
        Problem p = Problem::Decode(4, 2, 1000, 128, /*prefix_len=*/50, window, q_len,
                                    /*padding=*/8, 11);
        for (int64_t bh = 0; bh < p.batch * p.heads; ++bh) {
          const int64_t len = kv_lens[bh / p.heads];
          for (int64_t i = (bh * p.kv_capacity + len) * p.head_dim;
               i < (bh + 1) * p.kv_capacity * p.head_dim; ++i) {
            p.k[i] = p.v[i] = std::numeric_limits<float>::quiet_NaN();
          }
        }
        DeviceArray<uint16_t> q(Round(p.q, dtype)), k(Round(p.k, dtype)), v(Round(p.v, dtype));
        DeviceArray<uint16_t> out(std::vector<uint16_t>(p.OutSize(), 0xFFFF));
        DeviceArray<int32_t> valid(p.prefix_valid), lens(kv_lens);
        AttentionArgs args = p.Args(nullptr);
        args.q = q.ptr, args.k = k.ptr, args.v = v.ptr, args.out = out.ptr;
        args.prefix_valid = valid.ptr;
        args.kv_lens = lens.ptr;
        args.dtype = dtype;
        const absl::Status status = AttentionCudaDecode(args, nullptr);
        ASSERT_TRUE(status.ok()) << status;
        ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
        std::vector<float> got;
        for (uint16_t bits : out.ToHost()) got.push_back(FromBits(bits, dtype));
        const size_t per_row = p.OutSize() / p.batch;
        for (int64_t b = 0; b < p.batch; ++b) {
          Problem alone = testing::BatchRow(p, b);
          alone.kv_len = kv_lens[b];
          alone.q_start = kv_lens[b] - q_len;
          const std::vector<float> row(got.begin() + b * per_row, got.begin() + (b + 1) * per_row);
          EXPECT_LE(MaxAbsError(row, ReferenceF64(alone)), Tolerance(dtype))
              << "row " << b << " q_len " << q_len << " window " << window << " bf16 " << bf16;
        }
      }
    }
  }
}

// Validation happens before any CUDA call, so these run with or without a device.
TEST(CudaArgsTest, UnsupportedArgsAreInvalidArgument) {
  alignas(16) static uint16_t buffer[64];
  AttentionArgs a;
  a.q = a.k = a.v = a.out = buffer;
  a.dtype = ElementType::kF16;
  a.batch = a.heads = a.q_len = a.kv_len = 1;
  a.head_dim = 64;
  a.scale = 0.125f;
  auto expect_invalid = [](AttentionArgs bad) {
    EXPECT_EQ(AttentionCudaPrefill(bad, nullptr).code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(AttentionCudaDecode(bad, nullptr).code(), absl::StatusCode::kInvalidArgument);
  };
  AttentionArgs bad = a;
  bad.head_dim = 96;
  expect_invalid(bad);
  bad = a;
  bad.dtype = ElementType::kF32;
  expect_invalid(bad);
  bad = a;
  bad.k = buffer + 1;  // 2-byte aligned
  expect_invalid(bad);
  bad = a;
  bad.batch = 70000;
  expect_invalid(bad);
  bad = a;
  bad.kv_len = 2;  // a decode, not a prefill
  EXPECT_EQ(AttentionCudaPrefill(bad, nullptr).code(), absl::StatusCode::kInvalidArgument);
  // Per-row kv_lens are decode-only; the host never reads them (they are device memory), so a
  // host pointer to anything is enough to be refused by prefill before any CUDA call.
  static const int32_t lens[1] = {1};
  bad = a;
  bad.kv_lens = lens;
  EXPECT_EQ(AttentionCudaPrefill(bad, nullptr).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace duet::kernels
