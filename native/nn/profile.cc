#include "nn/profile.h"

#include <atomic>
#include <chrono>

namespace ser {
namespace {

std::atomic<std::uint64_t> kernelCalls{0}, kernelNanoseconds{0}, gemmNanoseconds{0};

std::int64_t now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

ScopedCount::ScopedCount(Counter counter) : counter_(counter), start_(now()) {}

ScopedCount::~ScopedCount() {
  const auto elapsed = static_cast<std::uint64_t>(now() - start_);
  if (counter_ == Counter::Kernel) {
    kernelCalls.fetch_add(1, std::memory_order_relaxed);
    kernelNanoseconds.fetch_add(elapsed, std::memory_order_relaxed);
  } else {
    gemmNanoseconds.fetch_add(elapsed, std::memory_order_relaxed);
  }
}

EngineCounters readEngineCounters() {
  EngineCounters c;
  c.kernelCalls = kernelCalls.load();
  c.kernelSeconds = static_cast<double>(kernelNanoseconds.load()) * 1e-9;
  c.gemmThreadSeconds = static_cast<double>(gemmNanoseconds.load()) * 1e-9;
  return c;
}

void resetEngineCounters() {
  kernelCalls = 0;
  kernelNanoseconds = 0;
  gemmNanoseconds = 0;
}

}  // namespace ser
