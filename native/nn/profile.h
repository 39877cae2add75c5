// Where the training engine's time goes, for the benchmark: wall time inside the addon's kernels (as the
// JS caller waits for them) and thread time inside GEMM micro-kernel loops, summed over the pool's
// threads. Counting costs two clock reads per call.
#pragma once
#include <cstdint>

namespace ser {

struct EngineCounters {
  std::uint64_t kernelCalls = 0;
  double kernelSeconds = 0;      // wall time of kernel calls from JS
  double gemmThreadSeconds = 0;  // GEMM time summed over threads
};

EngineCounters readEngineCounters();
void resetEngineCounters();

enum class Counter { Kernel, Gemm };

// Adds the time from construction to destruction to the counter.
class ScopedCount {
 public:
  explicit ScopedCount(Counter counter);
  ~ScopedCount();
  ScopedCount(const ScopedCount&) = delete;
  ScopedCount& operator=(const ScopedCount&) = delete;

 private:
  Counter counter_;
  std::int64_t start_;
};

}  // namespace ser
