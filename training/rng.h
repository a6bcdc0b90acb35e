// Counter-based randomness for training: every random choice is a pure function of
// (seed, stream, step), so a resumed run draws exactly what an uninterrupted run would.
#pragma once

#include <cstdint>

#include "fusion/sampler.h"

namespace duet::training {

// Streams keep the stages' draws independent of each other.
enum class RngStream : uint64_t {
  kSplit = 1,
  kImageBatch = 2,
  kJointBatch = 3,
  kEval = 4,
  kAugment = 5,
};

// A generator for one (seed, stream, step). Not thread-safe; cheap to create.
class StepRng {
 public:
  StepRng(uint64_t seed, RngStream stream, uint64_t step)
      : rng_(Mix(Mix(seed, static_cast<uint64_t>(stream)), step)) {}

  double Uniform() { return rng_.Uniform(); }  // [0, 1)
  // Uniform in [0, n); n > 0.
  int64_t Below(int64_t n) { return static_cast<int64_t>(rng_.Next() % static_cast<uint64_t>(n)); }

  // One SplitMix64 round of a ^ (b * golden ratio): a well-mixed 64-bit hash of the pair.
  static uint64_t Mix(uint64_t a, uint64_t b) {
    fusion::DraftRng rng(a ^ (b * 0x9e3779b97f4a7c15ULL));
    return rng.Next();
  }

 private:
  fusion::DraftRng rng_;
};

}  // namespace duet::training
