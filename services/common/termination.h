// SIGTERM and SIGINT, caught in whichever thread the kernel hands them to and passed to one
// waiter through a pipe. Blocking them is not enough: threads that start before main() (the
// BLAS pool LibTorch loads) keep them unblocked, and would take the default action (exit 143).
#pragma once

#include <chrono>

namespace duet::services {

// Installs the handler for SIGTERM and SIGINT (SA_RESTART). Call first thing in main(); idempotent.
// A signal that arrives before this call still terminates the process.
void CatchTerminationSignals();

// Waits up to `timeout` for a caught SIGTERM or SIGINT and returns it, or 0 when none came.
// A zero timeout only polls. Safe to call from one thread at a time.
int WaitForTerminationSignal(std::chrono::milliseconds timeout);

}  // namespace duet::services
