// Run-time ISA dispatch for hot loops: GCC/Clang build an AVX2+FMA clone next to the baseline one and
// pick at load time, so one binary is fast on new CPUs and still runs on old ones.
//
// SER_HOT_WIDE adds an AVX-512 clone for loops written with 16-float vectors (the STFT, resampler and
// mel stages). Such a loop is only worth running where the CPU has 512-bit registers: its callers pick
// 16 lanes when wideVectors() says so and 8 lanes otherwise, and both lane counts compute every lane
// with the same operations in the same order.
#pragma once

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__APPLE__) && \
    !defined(SER_NO_CLONES)
#define SER_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#define SER_HOT_WIDE __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define SER_HAVE_CLONES 1
#else
#define SER_HOT
#define SER_HOT_WIDE
#define SER_HAVE_CLONES 0
#endif

namespace ser {

// True where the CPU has AVX-512 (F, BW, DQ, VL: x86-64-v4), so that the SER_HOT_WIDE clones run with
// 512-bit registers. SER_DSP_ISA=avx2 in the environment caps it (to compare the two paths).
inline bool wideVectors() {
  static const bool wide = [] {
#if SER_HAVE_CLONES
    __builtin_cpu_init();
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    const char* cap = std::getenv("SER_DSP_ISA");
    return avx512 && !(cap != nullptr && std::strcmp(cap, "avx2") == 0);
#else
    return false;
#endif
  }();
  return wide;
}

}  // namespace ser
