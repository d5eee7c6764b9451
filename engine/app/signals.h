#pragma once
// SIGINT/SIGTERM set one process-wide stop flag that every long-running command polls.

#include <atomic>

namespace vigil::app {

//! Installs the handlers (once) and returns the flag they set.
std::atomic<bool>& install_stop_signals();

}  // namespace vigil::app
