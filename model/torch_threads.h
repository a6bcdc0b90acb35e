// How many CPU threads LibTorch's intra-op pool uses. Debian's LibTorch starts with one thread
// (its OpenMP runtime reports a single processor), so every entry point that runs a model sets
// the count once, before any model work.
#pragma once

namespace duet::model {

// `threads` > 0: use that many. 0: honour OMP_NUM_THREADS when set, else use every core.
// Returns the count in effect.
int UseTorchThreads(int threads = 0);

}  // namespace duet::model
