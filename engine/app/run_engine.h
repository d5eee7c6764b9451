#pragma once
// The engine against brokers: Kafka source -> Engine (shards, checkpoints) -> Kafka sink, with
// progress lines while it runs and a summary at the end. Used by `vigil run` and `vigil demo`.

#include <atomic>
#include <iosfwd>

#include "engine/app/options.h"

namespace vigil::app {

//! Runs until `stop` turns true or settings.duration_s passes. Returns the exit code.
int run_engine(const Settings& settings, std::atomic<bool>& stop, std::ostream& out);

//! One line with the engine's counters: events, alarms and orders.
void print_summary(std::ostream& out, const char* label);

}  // namespace vigil::app
