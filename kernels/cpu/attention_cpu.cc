// CPU attention used by fusion. Until the tiled kernel lands, it is the reference.
#include "kernels/cpu/attention_cpu.h"

namespace duet::kernels {

absl::Status AttentionCpu(const AttentionArgs& args) { return AttentionReference(args); }

}  // namespace duet::kernels
