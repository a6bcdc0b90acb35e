// How many CPU threads LibTorch's intra-op pool uses. Debian's LibTorch starts with one thread
// (its OpenMP runtime reports a single processor), so every entry point that runs a model sets
// the count once, before any model work. BLAS is kept single-threaded under that pool: Debian's
// OpenBLAS runs a pool of its own, which on a small machine fights the OpenMP threads.
#pragma once

namespace duet::model {

// `threads` > 0: use that many. 0: honour OMP_NUM_THREADS when set, else use every core.
// Applies to the calling thread and to threads it starts later (OpenMP's per-thread setting).
// Also sets BLAS (OpenBLAS, when it is the BLAS in use) to one thread, once per process.
// Returns the count in effect.
int UseTorchThreads(int threads = 0);

// The share of the machine's cores for one of `workers` threads that run models side by side:
// cores / workers, at least 1. A worker calls UseTorchThreads(CoresPerWorker(n)) when it starts.
int CoresPerWorker(int workers);

}  // namespace duet::model
