// vigil: the real-time alarm and dispatch engine for connected elder care.

#include <malloc.h>

#include <cstring>
#include <iostream>

#include "engine/app/commands.h"
#include "engine/app/options.h"

namespace {

constexpr const char* kUsage = R"(usage: vigil <command> [flags]

commands:
  demo        embedded broker, simulated elders and agencies, the engine (see README)
  run         the engine against a Kafka cluster: --config FILE | --brokers LIST
  simulate    load generator: --brokers LIST --elders N --rate EVENTS_PER_S --seed K
  replay      --rules DIR --input FILE.jsonl --output FILE.jsonl (deterministic, no broker)
  broker      a standalone in-memory Kafka-protocol broker; prints bootstrap.servers=...
  tail TOPIC  --brokers LIST [--from-beginning] [--duration S]
  rules check DIR
  bench       --workload standard --duration S --json FILE [--phases LIST] (bench/README.md)

common flags: --brokers LIST --data-dir DIR --rules DIR --config FILE --topic-prefix P
              --http ADDR:PORT --duration SECONDS --shards N --partitions N
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace vigil::app;
  // Blocks of 128 KiB and more (RocksDB's memtable arenas, large vectors) come from mmap and go
  // back to the system when freed. glibc's default raises this threshold to the size of the
  // largest block freed, after which freed memtables stayed in the heap and RSS grew with
  // every memtable a long run (or 100,000 rule reloads) went through (bench/README.md,
  // "Memory": +24.9% RSS with heap in use -2.7%; -3.1% with the threshold fixed).
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "help")) {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  try {
    if (cmd == "demo") return cmd_demo(argc, argv);
    if (cmd == "run") return cmd_run(argc, argv);
    if (cmd == "simulate") return cmd_simulate(argc, argv);
    if (cmd == "replay") return cmd_replay(argc, argv);
    if (cmd == "broker") return cmd_broker(argc, argv);
    if (cmd == "tail") return cmd_tail(argc, argv);
    if (cmd == "rules") return cmd_rules(argc, argv);
    if (cmd == "bench") return cmd_bench(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "vigil " << cmd << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "vigil " << cmd << ": " << e.what() << "\n";
    return 1;
  }
  std::cerr << "vigil: unknown command '" << cmd << "'\n" << kUsage;
  return 2;
}
