// RIFF/WAVE decoding to mono float, and 16-bit PCM encoding.
#pragma once
#include <cstdint>
#include <vector>

#include "common/span.h"

namespace ser {

enum class SampleFormat { Pcm, Float };

struct WavInfo {
  uint32_t sampleRate = 0;
  uint16_t channels = 0;
  uint16_t bitsPerSample = 0;  // container size of one sample
  SampleFormat format = SampleFormat::Pcm;
  std::size_t frames = 0;  // samples per channel
};

struct DecodedWav {
  WavInfo info;
  std::vector<float> samples;  // mono: mean of the channels
};

// Throws InputError naming what is wrong (empty, truncated, no data chunk, unsupported format, NaN, ...).
DecodedWav decodeWav(Span<const uint8_t> bytes);

// Integer samples scale like soundfile: int16 / 32768 etc.; values are clipped to [-1, 1 - 2^-15].
std::vector<uint8_t> encodeWavPcm16(Span<const float> samples, uint32_t sampleRate);

}  // namespace ser
