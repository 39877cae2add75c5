// Band-limited rational resampling with scipy.signal.resample_poly's default filter:
// a Kaiser (beta 5) windowed sinc of half-length 10 * max(up, down), cutoff 1 / max(up, down), unit DC gain.
#pragma once
#include <cstdint>
#include <vector>

#include "common/span.h"

namespace ser {

constexpr uint32_t kMaxSampleRate = 768000;

struct ResampleRatio {
  uint64_t up = 1;
  uint64_t down = 1;
};

// fromRate/toRate reduced by their gcd; throws InputError for rates outside 1..kMaxSampleRate.
ResampleRatio resampleRatio(uint32_t fromRate, uint32_t toRate);

// ceil(n * up / down), the length resample_poly returns.
std::size_t resampledLength(std::size_t inputLength, ResampleRatio ratio);

// The prototype filter exactly as scipy designs it (firwin(2*half+1, 1/max, window=('kaiser', 5.0)) * up).
std::vector<double> designResampleFilter(ResampleRatio ratio);

// out.size() must equal resampledLength(input.size(), ratio). Plans are cached per thread.
void resample(Span<const float> input, ResampleRatio ratio, Span<float> out);

std::vector<float> resample(Span<const float> input, uint32_t fromRate, uint32_t toRate);

}  // namespace ser
