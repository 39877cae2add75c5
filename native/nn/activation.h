// Transcendental activations over arrays, vectorised (common/fast_math.h): libm's tanhf is a scalar call
// of about 20 ns, and a seed-preset step takes about 0.4 million of them (the LSTM's candidate and
// cell, the attention's scores).
#pragma once
#include <cstddef>

namespace ser {

// y[i] = tanh(x[i]) within 1 ulp of the correctly rounded value (NaN stays NaN, +-inf gives +-1); y may be x.
void tanhArray(const float* x, float* y, std::size_t n);

}  // namespace ser
