#pragma once
// Seeded random draws for the simulator. The std distributions are implementation-defined
// (libstdc++ and libc++ give different numbers for one seed), so the draws are computed here
// from std::mt19937_64, whose output the standard fixes: one seed, one world, on any toolchain.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <random>
#include <string_view>

namespace vigil::sim {

//! Mixes a 64-bit value into a well-spread one (SplitMix64's finaliser). Derives independent
//! seeds from one user seed.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

//! FNV-1a of `s` continued from `h`: a hash that, unlike std::hash, is the same everywhere.
inline uint64_t stable_hash(std::string_view s, uint64_t h = 0xcbf29ce484222325ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

//! A seeded source of the draws the simulator needs. Not thread-safe: one per owner.
class SimRandom {
 public:
  explicit SimRandom(uint64_t seed) : engine_(seed) {}

  //! Uniform in [0, 1), 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  //! Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  //! Uniform integer in [lo, hi], both inclusive; lo <= hi.
  int64_t uniform_int(int64_t lo, int64_t hi) {
    const auto span = static_cast<unsigned __int128>(static_cast<uint64_t>(hi - lo) + 1);
    return lo + static_cast<int64_t>((span * engine_()) >> 64);
  }
  //! Uniform index in [0, n); n > 0.
  size_t index(size_t n) {
    return static_cast<size_t>((static_cast<unsigned __int128>(n) * engine_()) >> 64);
  }
  //! True with probability p.
  bool chance(double p) { return uniform() < p; }
  //! Exponential with the given mean (waiting time of a Poisson process).
  double exponential(double mean) { return -mean * std::log1p(-uniform()); }
  //! Normal (Box-Muller; one draw per call keeps the sequence simple to reason about).
  double normal(double mean, double sd) {
    const double u1 = 1.0 - uniform();  // (0, 1]: log stays finite
    const double u2 = uniform();
    return mean + sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace vigil::sim
