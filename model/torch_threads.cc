// Implementation of model/torch_threads.h.
#include "model/torch_threads.h"

#include <torch/torch.h>

#include <cstdlib>
#include <thread>

namespace duet::model {

int UseTorchThreads(int threads) {
  if (threads <= 0) {
    const char* env = std::getenv("OMP_NUM_THREADS");
    threads = env != nullptr ? std::atoi(env) : 0;
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  if (torch::get_num_threads() != threads) torch::set_num_threads(threads);
  return threads;
}

}  // namespace duet::model
