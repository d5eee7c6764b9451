#pragma once
// One function per `vigil` command (SPEC section 6). Each returns the process exit code:
// 0 success, 1 runtime failure, 2 bad usage or invalid input files.

namespace vigil::app {

int cmd_demo(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_simulate(int argc, char** argv);
int cmd_replay(int argc, char** argv);
int cmd_broker(int argc, char** argv);
int cmd_tail(int argc, char** argv);
int cmd_rules(int argc, char** argv);
int cmd_bench(int argc, char** argv);

}  // namespace vigil::app
