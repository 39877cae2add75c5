// Run-time ISA dispatch for hot loops: GCC/Clang build an AVX2+FMA clone next to the baseline one and
// pick at load time, so one binary is fast on new CPUs and still runs on old ones.
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__APPLE__) && \
    !defined(SER_NO_CLONES)
#define SER_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SER_HOT
#endif
