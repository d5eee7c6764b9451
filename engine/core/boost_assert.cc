// BOOST_ASSERT's handler, for every build in which Boost's assertions are on (debug, asan,
// tsan, fuzz; release has NDEBUG and no assertions). vigil::core defines
// BOOST_ENABLE_ASSERT_DEBUG_HANDLER for everything that links it (CMakeLists.txt), so every
// Boost header in the project sees the same definition.
//
// Every failed Boost assertion aborts, as the default would, except one that upstream has
// since found wrong: Boost.Beast 1.81 (Debian 12) asserts `n >= 5` in
// basic_parser::parse_chunk_header, but a chunk header can legitimately reach it with 3 or 4
// bytes (a last chunk "0\r\n" split across reads, or "0H\r\n"); the code after the assertion
// answers need_more, as release builds (NDEBUG, no assertion) do. Fixed upstream in
// boostorg/beast#2861 (Boost 1.86). fuzz_http found it on 2026-12-07
// (tests/fuzz/regressions/fuzz_http-beast-chunk-header-assert.http); until 2026-12-08 only the
// fuzz preset had this handler, and a debug or asan build of the engine's HTTP server aborted
// on such a request (test: BeastChunkParser.ALastChunkArrivingAByteAtATimeParsesInEveryBuild,
// engine/api/tests/server_test.cc).
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace boost {

void assertion_failed_msg(char const* expr, char const* msg, char const* function,
                          char const* file, long line) {
  if (std::strcmp(expr, "n >= 5") == 0 && std::strstr(function, "parse_chunk_header") != nullptr) {
    return;  // boostorg/beast#2861: the parser goes on and asks for more input
  }
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed%s%s\n", file, line, function, expr,
               msg != nullptr ? ": " : "", msg != nullptr ? msg : "");
  std::abort();
}

void assertion_failed(char const* expr, char const* function, char const* file, long line) {
  assertion_failed_msg(expr, nullptr, function, file, line);
}

}  // namespace boost
