#include "engine/app/signals.h"

#include <csignal>

namespace vigil::app {
namespace {
std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};
extern "C" void on_signal(int) { g_stop.store(true); }
extern "C" void on_hup(int) { g_reload.store(true); }
}  // namespace

std::atomic<bool>& install_stop_signals() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  return g_stop;
}

std::atomic<bool>& install_reload_signal() {
  std::signal(SIGHUP, on_hup);
  return g_reload;
}

}  // namespace vigil::app
