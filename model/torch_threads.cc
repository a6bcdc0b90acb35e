// Implementation of model/torch_threads.h.
#include "model/torch_threads.h"

#include <dlfcn.h>
#include <torch/torch.h>

#include <cstdlib>
#include <mutex>
#include <thread>

namespace duet::model {
namespace {

int MachineCores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

void UseSingleThreadedBlas() {
  static std::once_flag once;
  std::call_once(once, [] {
    // OpenBLAS is loaded with LibTorch; look its setter up instead of linking it, so a build
    // against another BLAS still links and runs.
    using SetThreads = void (*)(int);
    if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
      set(1);
    }
  });
}

}  // namespace

int UseTorchThreads(int threads) {
  UseSingleThreadedBlas();
  if (threads <= 0) {
    const char* env = std::getenv("OMP_NUM_THREADS");
    threads = env != nullptr ? std::atoi(env) : 0;
    if (threads <= 0) threads = MachineCores();
  }
  if (torch::get_num_threads() != threads) torch::set_num_threads(threads);
  return threads;
}

int CoresPerWorker(int workers) { return std::max(1, MachineCores() / std::max(1, workers)); }

}  // namespace duet::model
