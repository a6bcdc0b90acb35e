// A child process with its stdout piped back: how `duet up` (and the tests) start the server
// binaries and learn the address each one bound ("<program> listening on <address>").
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"

namespace duet::client {

// Not thread-safe. The destructor kills (SIGKILL) and reaps a child that is still running.
class ChildProcess {
 public:
  // Starts argv[0] (a path) with argv; its stdout is piped to us, stderr is inherited.
  static StatusOr<std::unique_ptr<ChildProcess>> Spawn(const std::vector<std::string>& argv);
  ~ChildProcess();

  // Reads stdout until a line "...<marker>ADDRESS"; returns ADDRESS and forgets the lines up to
  // it. DeadlineExceeded after `timeout`, Unavailable when the child exits first.
  StatusOr<std::string> WaitForAddress(std::chrono::milliseconds timeout,
                                       const std::string& marker = " listening on ");
  void Signal(int signal);
  // Waits up to `timeout` for the child to exit; returns its exit code (128 + signal when killed)
  // or DeadlineExceeded.
  StatusOr<int> Wait(std::chrono::milliseconds timeout);
  pid_t pid() const { return pid_; }

 private:
  ChildProcess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}
  pid_t pid_;
  int stdout_fd_;
  bool reaped_ = false;
  std::string buffer_;
};

// The directory holding the running executable (for finding the server binaries next to it).
std::string ExecutableDir();

}  // namespace duet::client
