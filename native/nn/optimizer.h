// Adam's update of one variable as one pass over its elements, with tfjs's Adam arithmetic step for step
// (each operation rounded to float32 as its kernels round it), instead of a dozen elementwise kernels.
#pragma once
#include <cstddef>

namespace ser {

struct AdamStep {
  float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-7f, learningRate = 1e-3f;
  // 1 - beta1^t and 1 - beta2^t, as tfjs computes them from its accumulated powers.
  float oneMinusAccBeta1 = 0.1f, oneMinusAccBeta2 = 0.001f;
  // 1 - beta1 and 1 - beta2 as tfjs passes them (computed in double, then rounded).
  float oneMinusBeta1 = 0.1f, oneMinusBeta2 = 0.001f;
};

// m' = m beta1 + g (1 - beta1); v' = v beta2 + g^2 (1 - beta2);
// value' = (m' / (1 - beta1^t)) / (sqrt(v' / (1 - beta2^t)) + epsilon) * -lr + value.
// Outputs may alias their inputs.
void adamUpdate(const AdamStep& step, std::size_t count, const float* value, const float* m, const float* v,
                const float* gradient, float* newValue, float* newM, float* newV);

// One variable of a whole model's update, in place.
struct AdamVariable {
  std::size_t count = 0;
  float* value = nullptr;
  float* m = nullptr;
  float* v = nullptr;
  const float* gradient = nullptr;
};

// adamUpdate of every variable in place, as one loop over the pool: chunks of all variables are its
// tasks, so the small variables do not each run alone on the caller, and the pool waits once.
void adamUpdateAll(const AdamStep& step, const AdamVariable* variables, std::size_t count);

}  // namespace ser
