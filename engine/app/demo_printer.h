#pragma once
// What `vigil demo` shows on the terminal: new alarms, offers and order transitions as the
// engine emits them, read back from the broker like any other consumer would.

#include <atomic>
#include <iosfwd>
#include <string>

#include "engine/codec/topics.h"

namespace vigil::app {

//! Prints until `stop` turns true. Returns 0, or 1 if the consumer could not start.
int run_demo_printer(const std::string& brokers, const TopicNames& topics, std::atomic<bool>& stop,
                     std::ostream& out);

}  // namespace vigil::app
