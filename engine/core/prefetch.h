#pragma once
// Asking the CPU for a cache line ahead of its use (the shards' look-ahead, engine/pipeline).
//
// Not __builtin_prefetch: with GCC 12, any translation unit that includes <immintrin.h> (Boost
// includes it, e.g. boost/multiprecision via Boost.Geometry) compiles every later
// __builtin_prefetch to nothing. x86gprintrin.h wraps its functions in
// `#pragma GCC target("general-regs-only")`, and pop_options does not restore the flag that
// lets GCC emit SSE prefetches, so the builtin is silently dropped. That is how the engine's
// look-ahead did nothing for several sessions (objdump found no prefetch instruction in any
// vigil object; bench/README.md, session 8). The instruction in inline assembly cannot be
// dropped; engine/core/tests checks that it is there.

namespace vigil {

//! Asks for the cache line holding `p` into all cache levels. Never faults; changes nothing.
inline void prefetch(const void* p) {
#if defined(__x86_64__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p);
#endif
}

}  // namespace vigil
