// The first non-finite sample of an array, found by a branch-free scan the compiler vectorises (a
// loop that throws at the first bad sample stays scalar: 8% of a clip's features went to it). Out of
// line, so that the scan runs in the widest vector clone the CPU has.
#pragma once
#include <cstddef>

namespace ser {

// Index of the first NaN or infinity in x[0..n), or n when every value is finite.
std::size_t firstNonFinite(const float* x, std::size_t n);

}  // namespace ser
