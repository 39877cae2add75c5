// Framing and power spectrum with librosa's conventions: periodic Hann of winLength zero-padded to nFft
// in the centre; center=true pads nFft/2 zeros on both sides (pad_mode 'constant', librosa >= 0.9).
#pragma once
#include <cstddef>
#include <vector>

#include "common/span.h"

namespace ser {

struct StftConfig {
  std::size_t nFft = 512;
  std::size_t winLength = 400;
  std::size_t hopLength = 160;
  bool center = true;
  double power = 2.0;  // 1: magnitude, 2: power
};

// Throws InputError for sizes that make no frame (e.g. center=false and fewer samples than nFft).
std::size_t stftFrameCount(std::size_t samples, const StftConfig& config);

std::vector<double> periodicHannPadded(std::size_t winLength, std::size_t nFft);

// out: [frames][nFft/2 + 1], time-major.
void powerSpectrogram(Span<const float> samples, const StftConfig& config, Span<float> out);

}  // namespace ser
