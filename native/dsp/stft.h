// Framing and power spectrum with librosa's conventions: periodic Hann of winLength zero-padded to nFft
// in the centre; center=true pads nFft/2 zeros on both sides (pad_mode 'constant', librosa >= 0.9).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/span.h"

namespace ser {

class SparseMelBasis;

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

// Frames firstFrame .. firstFrame + count - 1 of a signal of signalLength samples (zero outside it),
// of which `buffer` holds indices bufferStart .. bufferStart + buffer.size() - 1: every sample inside
// the signal that these frames read must be in the buffer. Equal, bit for bit, to those rows of
// powerSpectrogram of the whole signal. out: [count][nFft/2 + 1].
void powerSpectrogramFrames(Span<const float> buffer, int64_t bufferStart, int64_t signalLength, std::size_t firstFrame,
                            std::size_t count, const StftConfig& config, Span<float> out);

// The mel energies of the same frames (|X|^power through the filters), without the power spectrogram
// in between: out [count][mel.mels()]. A frame's values do not depend on which frames share the call.
void melSpectrogramFrames(Span<const float> buffer, int64_t bufferStart, int64_t signalLength, std::size_t firstFrame,
                          std::size_t count, const StftConfig& config, const SparseMelBasis& mel, Span<float> out);

}  // namespace ser
