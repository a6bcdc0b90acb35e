// Implementation of services/common/termination.h: a self-pipe written by the signal handler.
#include "services/common/termination.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <mutex>

namespace duet::services {
namespace {

int pipe_fds[2] = {-1, -1};  // [0] read by the waiter, [1] written by the handler

void OnTerminationSignal(int signal) {
  const int saved_errno = errno;  // the handler may interrupt any thread mid-call
  const unsigned char byte = static_cast<unsigned char>(signal);
  // A full pipe already holds a signal: one is enough.
  [[maybe_unused]] const ssize_t written = write(pipe_fds[1], &byte, 1);
  errno = saved_errno;
}

}  // namespace

void CatchTerminationSignals() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) return;  // then the default action stays
    struct sigaction action = {};
    action.sa_handler = OnTerminationSignal;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    sigset_t set;  // a parent (a supervisor, a test) may have spawned us with them blocked
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  });
}

int WaitForTerminationSignal(std::chrono::milliseconds timeout) {
  if (pipe_fds[0] < 0) return 0;
  pollfd fd = {pipe_fds[0], POLLIN, 0};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    const int ready = poll(&fd, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (ready > 0) {
      unsigned char byte = 0;
      if (read(pipe_fds[0], &byte, 1) == 1) return byte;
    }
    if (ready == 0 || (ready < 0 && errno != EINTR)) return 0;
  }
}

}  // namespace duet::services
