#pragma once
// Line-oriented logging to stderr: "<level> <component>: message". Thread-safe; a line is
// written whole. Not for the per-event path: count there, log once.

#include <sstream>
#include <string>
#include <string_view>

namespace vigil::log {

enum class Level { kDebug = 0, kInfo, kWarn, kError };

void set_level(Level level);
bool enabled(Level level);
void write(Level level, std::string_view component, std::string_view message);

//! Concatenates its arguments with operator<<.
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

template <class... Args>
void info(std::string_view component, const Args&... args) {
  if (enabled(Level::kInfo)) write(Level::kInfo, component, cat(args...));
}
template <class... Args>
void warn(std::string_view component, const Args&... args) {
  if (enabled(Level::kWarn)) write(Level::kWarn, component, cat(args...));
}
template <class... Args>
void error(std::string_view component, const Args&... args) {
  if (enabled(Level::kError)) write(Level::kError, component, cat(args...));
}
template <class... Args>
void debug(std::string_view component, const Args&... args) {
  if (enabled(Level::kDebug)) write(Level::kDebug, component, cat(args...));
}

}  // namespace vigil::log
