// Features of a recording of any length, a block of WAV bytes at a time: the header, decoding to mono,
// resampling and framing carry their state across block edges, so the rows equal the whole-file
// computation (FeatureExtractor::compute after decodeWav and resample) while memory stays bounded.
//
// The top_db floor needs the whole recording's maximum, so rows come out before the floor
// (`unfloored`); once the input has ended, finishRows() floors them (and takes the DCT for mfcc).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/span.h"
#include "dsp/features.h"
#include "dsp/resample.h"
#include "dsp/wav.h"

namespace ser {

// WAV bytes in blocks of any size to mono samples at the target rate: the header, a sample frame cut
// between blocks and the resampler's filter state carry across block edges, so the samples equal
// resample(decodeWav(file)) of the whole file.
class AudioStream {
 public:
  explicit AudioStream(uint32_t targetRate);
  // Appends to `out` the samples the bytes so far determine.
  void push(Span<const uint8_t> bytes, std::vector<float>& out);
  // The input has ended: appends the rest. Throws InputError for a truncated or missing header.
  void finish(std::vector<float>& out);
  bool headerKnown() const { return headerKnown_; }
  const WavHeader& header() const { return header_; }
  uint64_t sourceFrames() const { return sourceFrames_; }

 private:
  void decodeAvailable(std::vector<float>& out);
  uint32_t targetRate_;
  std::vector<uint8_t> pending_;  // header bytes, then a partial sample frame between blocks
  bool headerKnown_ = false;
  bool finished_ = false;
  WavHeader header_;
  uint64_t dataSeen_ = 0;  // data bytes decoded
  uint64_t sourceFrames_ = 0;
  std::unique_ptr<StreamingResampler> resampler_;
  std::vector<float> decoded_;
};

class FeatureStream {
 public:
  explicit FeatureStream(const FeatureConfig& config);

  // WAV bytes, in order, in blocks of any size. Unfloored rows that are complete are appended to rows().
  void push(Span<const uint8_t> bytes);
  // The input has ended: the last rows. Throws InputError for a truncated header or too few samples.
  void finish();

  bool headerKnown() const { return audio_.headerKnown(); }
  const WavHeader& header() const { return audio_.header(); }
  uint64_t sourceFrames() const { return audio_.sourceFrames(); }
  // Unfloored rows waiting to be taken, unflooredWidth() values each; the caller clears them.
  std::vector<float>& rows() { return rows_; }
  std::size_t unflooredWidth() const { return extractor_.unflooredWidth(); }
  std::size_t coeffs() const { return featureCoeffs(config_); }
  uint64_t framesDone() const { return nextFrame_; }
  // After finish(): the floor to pass to finishRows.
  float floorDb() const;
  // Unfloored rows (a multiple of unflooredWidth(), modified) to features (coeffs() per row).
  void finishRows(Span<float> unfloored, Span<float> out) const;

 private:
  void frameAvailable(bool end);
  void emitFrames(uint64_t first, uint64_t count, int64_t signalLength);

  FeatureConfig config_;
  StftConfig stft_;
  FeatureExtractor extractor_;
  AudioStream audio_;
  std::vector<float> samples_;
  std::vector<float> signal_;  // resampled samples from index signalStart_ on
  int64_t signalStart_ = 0;
  uint64_t signalLength_ = 0;  // resampled samples so far
  uint64_t nextFrame_ = 0;
  bool finished_ = false;
  float maxDb_ = -INFINITY;
  std::vector<float> rows_;
};

}  // namespace ser
