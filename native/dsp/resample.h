// Band-limited rational resampling with scipy.signal.resample_poly's default filter:
// a Kaiser (beta 5) windowed sinc of half-length 10 * max(up, down), cutoff 1 / max(up, down), unit DC gain.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "common/span.h"

namespace ser {

constexpr uint32_t kMaxSampleRate = 768000;

struct ResampleRatio {
  uint64_t up = 1;
  uint64_t down = 1;
};

// The filter has 20 * max(up, down) + 1 taps, so a pair of rates whose reduced ratio has a large term
// (767999 Hz -> 16 kHz: 16000/767999, 15 million taps) is refused before anything is built. Every real
// rate pair (44.1k, 22.05k, 11.025k, 37.8k, 44.056k, 47.952k, 88.2k ... to 16k) stays far below it.
constexpr uint64_t kMaxResampleTerm = 16384;

// fromRate/toRate reduced by their gcd; throws InputError for rates outside 1..kMaxSampleRate and for
// ratios with a term above kMaxResampleTerm.
ResampleRatio resampleRatio(uint32_t fromRate, uint32_t toRate);

// ceil(n * up / down), the length resample_poly returns.
std::size_t resampledLength(std::size_t inputLength, ResampleRatio ratio);

// The prototype filter exactly as scipy designs it (firwin(2*half+1, 1/max, window=('kaiser', 5.0)) * up).
std::vector<double> designResampleFilter(ResampleRatio ratio);

// out.size() must equal resampledLength(input.size(), ratio). Plans are cached per thread.
void resample(Span<const float> input, ResampleRatio ratio, Span<float> out);

std::vector<float> resample(Span<const float> input, uint32_t fromRate, uint32_t toRate);

// resample() of 16-bit little-endian mono PCM (the bytes of a WAV data chunk), equal bit for bit to
// resampling the decoded floats (k / 32768); integer decimation reads the bytes directly, without a
// decoded copy of the clip.
void resamplePcm16Mono(Span<const uint8_t> pcm, ResampleRatio ratio, Span<float> out);

struct ResamplePlan;

// Resamples a signal that arrives in blocks of any size: the outputs equal resample() of the whole
// signal, bit for bit, while only about one filter length of input is kept.
class StreamingResampler {
 public:
  explicit StreamingResampler(ResampleRatio ratio);
  // Appends to `out` every output that the input so far determines.
  void push(Span<const float> input, std::vector<float>& out);
  // The input has ended: appends the rest, resampledLength(total input) outputs in all.
  void finish(std::vector<float>& out);
  uint64_t inputLength() const { return consumed_; }

 private:
  void emitWhileKnown(std::vector<float>& out, uint64_t knownEnd);
  ResampleRatio ratio_;
  std::shared_ptr<const ResamplePlan> plan_;
  std::vector<float> history_;  // input samples from index historyStart_ on (leading zeros at first)
  int64_t historyStart_ = 0;
  uint64_t consumed_ = 0;
  uint64_t nextOutput_ = 0;
};

}  // namespace ser
