#pragma once
// SIGINT/SIGTERM set one process-wide stop flag that every long-running command polls.

#include <atomic>

namespace vigil::app {

//! Installs the handlers (once) and returns the flag they set.
std::atomic<bool>& install_stop_signals();

//! SIGHUP sets this flag (asks the engine to reload its rules); the engine clears it.
std::atomic<bool>& install_reload_signal();

}  // namespace vigil::app
