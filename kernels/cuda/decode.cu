// Split-KV decode: a few query rows against a long KV cache. Each CTA reduces one chunk of the
// visible keys (online softmax per warp, warps merged in shared memory); a combine kernel merges
// the chunks by their log-sum-exp. Memory-bound, so plain FMA, no tensor cores.
#include <cuda_runtime.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/launch.h"

namespace duet::kernels::cuda {
namespace {

constexpr int kDecodeWarps = 4;
constexpr int kDecodeThreads = 32 * kDecodeWarps;

// Each lane holds kHeadDim / 32 contiguous elements of a row: a warp reads one key row at once.
template <typename T, int kPerLane>
struct alignas(sizeof(T) * kPerLane) LaneSlice {
  T x[kPerLane];
};

// Running softmax state of one query row within one warp (base-2 scores).
template <int kPerLane>
struct RowState {
  float max = -INFINITY;
  float sum = 0.f;
  float out[kPerLane] = {};
};

template <ElementType kType, int kHeadDim>
__device__ __forceinline__ void LoadLaneSlice(const typename Element<kType>::Type* row,
                                              float (&x)[kHeadDim / 32]) {
  constexpr int kPerLane = kHeadDim / 32;
  using T = typename Element<kType>::Type;
  const LaneSlice<T, kPerLane> slice =
      *reinterpret_cast<const LaneSlice<T, kPerLane>*>(row + (threadIdx.x % 32) * kPerLane);
  for (int e = 0; e < kPerLane; ++e) x[e] = Element<kType>::ToFloat(slice.x[e]);
}

// One visible key for one query row: s = q.k (warp sum), then the online softmax update.
template <int kPerLane>
__device__ __forceinline__ void AttendKey(const float (&q)[kPerLane], const float (&k)[kPerLane],
                                          const float (&v)[kPerLane], RowState<kPerLane>& row) {
  float dot = 0.f;
  for (int e = 0; e < kPerLane; ++e) dot = fmaf(q[e], k[e], dot);
  dot = WarpSum(dot);
  const float new_max = fmaxf(row.max, dot);
  const float alpha = FastExp2(row.max - new_max);  // 0 for the row's first key
  const float p = FastExp2(dot - new_max);
  row.sum = row.sum * alpha + p;
  for (int e = 0; e < kPerLane; ++e) row.out[e] = fmaf(row.out[e], alpha, p * v[e]);
  row.max = new_max;
}

// Merges the CTA's warps (m = max_w m_w, l = sum_w l_w 2^(m_w - m), o = sum_w o_w 2^(m_w - m) / l)
// and writes the result: straight to out with one split, else this split's partial and its LSE.
template <ElementType kType, int kHeadDim>
__device__ __forceinline__ void MergeWarpsAndStore(
    const DeviceAttentionParams& p, const DecodeWorkspace& ws,
    const RowState<kHeadDim / 32> (&rows)[kDecodeMaxQueries]) {
  constexpr int kPerLane = kHeadDim / 32;
  __shared__ float s_max[kDecodeWarps][kDecodeMaxQueries];
  __shared__ float s_sum[kDecodeWarps][kDecodeMaxQueries];
  __shared__ float s_out[kDecodeWarps][kDecodeMaxQueries][kHeadDim];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int r = 0; r < kDecodeMaxQueries; ++r) {
    if (lane == 0) s_max[warp][r] = rows[r].max;
    if (lane == 0) s_sum[warp][r] = rows[r].sum;
    for (int e = 0; e < kPerLane; ++e) s_out[warp][r][lane * kPerLane + e] = rows[r].out[e];
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < p.q_len * kHeadDim; idx += kDecodeThreads) {
    const int r = idx / kHeadDim, d = idx % kHeadDim;
    float max = -INFINITY;
    for (int w = 0; w < kDecodeWarps; ++w) max = fmaxf(max, s_max[w][r]);
    float sum = 0.f, acc = 0.f;
    for (int w = 0; w < kDecodeWarps && max != -INFINITY; ++w) {
      const float scale = FastExp2(s_max[w][r] - max);
      sum += s_sum[w][r] * scale;
      acc += s_out[w][r][d] * scale;
    }
    const float value = sum > 0.f ? acc / sum : 0.f;
    const int64_t out_row = blockIdx.y * p.q_len + r;
    if (ws.partial_out == nullptr) {  // one split: this is the answer
      using T = typename Element<kType>::Type;
      static_cast<T*>(p.out)[out_row * kHeadDim + d] = Element<kType>::FromFloat(value);
      continue;
    }
    const int64_t part = out_row * gridDim.x + blockIdx.x;
    ws.partial_out[part * kHeadDim + d] = value;
    if (d == 0) ws.partial_lse[part] = sum > 0.f ? max + __log2f(sum) : -INFINITY;
  }
}

template <ElementType kType, int kHeadDim>
__global__ void __launch_bounds__(kDecodeThreads)
    DecodeSplitKernel(const DeviceAttentionParams p, const DecodeWorkspace ws) {
  constexpr int kPerLane = kHeadDim / 32;
  using T = typename Element<kType>::Type;
  const int64_t bh = blockIdx.y;
  const int warp = threadIdx.x / 32;
  const int64_t valid = p.prefix_valid ? p.prefix_valid[bh / p.heads] : p.mask.prefix_len;
  const RowSpan span = RowSpanOf(p, bh / p.heads);
  const T* q = static_cast<const T*>(p.q) + bh * p.q_len * kHeadDim;
  const T* k = static_cast<const T*>(p.k) + bh * p.kv_stride * kHeadDim;
  const T* v = static_cast<const T*>(p.v) + bh * p.kv_stride * kHeadDim;

  // This CTA's share of the visible keys, numbered across the prefix and target ranges.
  const VisibleKeys keys =
      VisibleKeyRanges(p.mask, valid, span.q_start, span.q_start + p.q_len - 1, span.kv_len);
  const int64_t n_prefix = keys.prefix.size();
  const int64_t n_visible = n_prefix + keys.target.size();
  const int64_t per_split = (n_visible + gridDim.x - 1) / gridDim.x;
  const int64_t i_begin = blockIdx.x * per_split;
  const int64_t i_end = i_begin + per_split < n_visible ? i_begin + per_split : n_visible;

  float q_rows[kDecodeMaxQueries][kPerLane] = {};
  RowState<kPerLane> rows[kDecodeMaxQueries];
  for (int r = 0; r < kDecodeMaxQueries && r < p.q_len; ++r) {
    LoadLaneSlice<kType, kHeadDim>(q + r * kHeadDim, q_rows[r]);
    for (int e = 0; e < kPerLane; ++e) q_rows[r][e] *= p.scale_log2;
  }
  for (int64_t i = i_begin + warp; i < i_end; i += kDecodeWarps) {
    const int64_t k_pos = i < n_prefix ? keys.prefix.begin + i : keys.target.begin + (i - n_prefix);
    float k_row[kPerLane], v_row[kPerLane];
    LoadLaneSlice<kType, kHeadDim>(k + k_pos * kHeadDim, k_row);
    LoadLaneSlice<kType, kHeadDim>(v + k_pos * kHeadDim, v_row);
    for (int r = 0; r < kDecodeMaxQueries && r < p.q_len; ++r) {
      if (MaskAllows(p.mask, valid, span.q_start + r, k_pos))
        AttendKey(q_rows[r], k_row, v_row, rows[r]);
    }
  }

  MergeWarpsAndStore<kType, kHeadDim>(p, ws, rows);
}

// out[row] = sum_s 2^(lse_s - m) o_s / sum_s 2^(lse_s - m), m = max_s lse_s; zeros if all -inf.
template <ElementType kType, int kHeadDim>
__global__ void __launch_bounds__(kHeadDim)
    DecodeCombineKernel(const DeviceAttentionParams p, const DecodeWorkspace ws, int num_splits) {
  const int64_t row = blockIdx.x;  // (b * H + h) * q_len + i
  const int d = threadIdx.x;
  const float* lse = ws.partial_lse + row * num_splits;
  float max = -INFINITY;
  for (int s = 0; s < num_splits; ++s) max = fmaxf(max, lse[s]);
  float sum = 0.f, acc = 0.f;
  for (int s = 0; s < num_splits && max != -INFINITY; ++s) {
    const float weight = FastExp2(lse[s] - max);
    sum += weight;
    acc += weight * ws.partial_out[(row * num_splits + s) * kHeadDim + d];
  }
  using T = typename Element<kType>::Type;
  static_cast<T*>(p.out)[row * kHeadDim + d] =
      Element<kType>::FromFloat(sum > 0.f ? acc / sum : 0.f);
}

}  // namespace

template <ElementType kType, int kHeadDim>
absl::Status LaunchDecode(const DeviceAttentionParams& params, int num_splits,
                          const DecodeWorkspace& workspace, cudaStream_t stream) {
  const DecodeWorkspace split_out = num_splits > 1 ? workspace : DecodeWorkspace{};
  const dim3 grid(static_cast<unsigned>(num_splits), static_cast<unsigned>(params.batch_heads));
  DecodeSplitKernel<kType, kHeadDim><<<grid, kDecodeThreads, 0, stream>>>(params, split_out);
  DUET_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  if (num_splits == 1) return absl::OkStatus();
  const auto rows = static_cast<unsigned>(params.batch_heads * params.q_len);
  DecodeCombineKernel<kType, kHeadDim>
      <<<rows, kHeadDim, 0, stream>>>(params, workspace, num_splits);
  DUET_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return absl::OkStatus();
}

template absl::Status LaunchDecode<ElementType::kF16, 64>(const DeviceAttentionParams&, int,
                                                          const DecodeWorkspace&, cudaStream_t);
template absl::Status LaunchDecode<ElementType::kF16, 128>(const DeviceAttentionParams&, int,
                                                           const DecodeWorkspace&, cudaStream_t);
template absl::Status LaunchDecode<ElementType::kBF16, 64>(const DeviceAttentionParams&, int,
                                                           const DecodeWorkspace&, cudaStream_t);
template absl::Status LaunchDecode<ElementType::kBF16, 128>(const DeviceAttentionParams&, int,
                                                            const DecodeWorkspace&, cudaStream_t);

}  // namespace duet::kernels::cuda
