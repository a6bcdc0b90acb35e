// Validation and CPU dispatch for kernels/attention.h.
#include "kernels/attention.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "kernels/cpu/attention_cpu.h"

namespace duet::kernels {
namespace {

absl::Status Positive(const char* field, int64_t value) {
  if (value > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, " must be > 0, got ", value));
}

}  // namespace

absl::Status ValidateAttentionArgs(const AttentionArgs& args) {
  if (!args.q || !args.k || !args.v || !args.out) {
    return absl::InvalidArgumentError("q, k, v and out must all be non-null");
  }
  for (auto [field, value] : {std::pair<const char*, int64_t>{"batch", args.batch},
                              {"heads", args.heads},
                              {"q_len", args.q_len},
                              {"kv_len", args.kv_len},
                              {"head_dim", args.head_dim}}) {
    if (absl::Status s = Positive(field, value); !s.ok()) return s;
  }
  if (args.q_start < 0 || args.q_start + args.q_len > args.kv_len) {
    return absl::InvalidArgumentError(
        absl::StrCat("q_start + q_len must be in [q_len, kv_len=", args.kv_len, "], got ",
                     args.q_start + args.q_len));
  }
  if (args.kv_capacity != 0 && args.kv_capacity < args.kv_len) {
    return absl::InvalidArgumentError(
        absl::StrCat("kv_capacity must be >= kv_len=", args.kv_len, ", got ", args.kv_capacity));
  }
  for (int64_t b = 0; args.kv_lens != nullptr && b < args.batch; ++b) {
    if (args.kv_lens[b] < args.q_len || args.kv_lens[b] > args.kv_len) {
      return absl::InvalidArgumentError(absl::StrCat("kv_lens[", b, "] must be in [q_len=",
                                                     args.q_len, ", kv_len=", args.kv_len,
                                                     "], got ", args.kv_lens[b]));
    }
  }
  if (args.mask.prefix_len < 0 || args.mask.window < 0) {
    return absl::InvalidArgumentError("mask.prefix_len and mask.window must be >= 0");
  }
  if (!(args.scale > 0.f)) {
    return absl::InvalidArgumentError(absl::StrCat("scale must be > 0, got ", args.scale));
  }
  return absl::OkStatus();
}

absl::Status AttentionPrefill(const AttentionArgs& args) {
  if (args.q_start != 0 || args.q_len != args.kv_len || args.kv_lens != nullptr) {
    return absl::InvalidArgumentError(
        "prefill needs q_start == 0, q_len == kv_len and no per-row kv_lens");
  }
  return AttentionCpu(args);  // checks the dtype: kF32 and kBF16 only
}

absl::Status AttentionDecode(const AttentionArgs& args) {
  if (args.kv_lens == nullptr && args.q_start + args.q_len != args.kv_len) {
    return absl::InvalidArgumentError("decode needs q_start + q_len == kv_len");
  }
  return AttentionCpu(args);  // checks the dtype: kF32 and kBF16 only
}

}  // namespace duet::kernels
