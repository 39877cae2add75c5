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

// What the header says, with where the sample data starts.
struct WavHeader {
  WavInfo info;  // frames: as the data chunk's size says (0 when the data runs to the end)
  uint16_t blockAlign = 0;
  std::size_t dataOffset = 0;
  // The data chunk's size; false when it runs to the end of the input (a size of 0 or 0xFFFFFFFF, as
  // writers to a pipe leave it, since they cannot seek back to fill it in).
  bool sizeKnown = true;
  uint64_t dataBytes = 0;
};

// Parses the header from the first bytes of a file. Returns false when more bytes are needed (no data
// chunk yet); throws InputError for what is no WAV or not supported. With `complete`, `prefix` is the
// whole file and a data chunk claiming more bytes than follow is an error (truncated file).
bool parseWavHeader(Span<const uint8_t> prefix, bool complete, WavHeader& header);

// Decodes whole frames (data.size() a multiple of blockAlign) to mono, the mean of the channels
// computed in double. Throws InputError for samples that are not finite or overflow float32;
// `firstFrame` numbers the frames in its messages.
void decodeWavFrames(const WavHeader& header, Span<const uint8_t> data, std::size_t firstFrame, Span<float> out);

// Throws InputError naming what is wrong (empty, truncated, no data chunk, unsupported format, NaN, ...).
DecodedWav decodeWav(Span<const uint8_t> bytes);

// The same into a caller's buffer: `header` from parseWavHeader(bytes, true, header), out holding
// header.info.frames samples.
void decodeWavData(Span<const uint8_t> bytes, const WavHeader& header, Span<float> out);

// Integer samples scale like soundfile: int16 / 32768 etc.; values are clipped to [-1, 1 - 2^-15].
std::vector<uint8_t> encodeWavPcm16(Span<const float> samples, uint32_t sampleRate);

}  // namespace ser
