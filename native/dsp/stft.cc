#include "dsp/stft.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/errors.h"
#include "dsp/fft.h"

namespace ser {

std::size_t stftFrameCount(std::size_t samples, const StftConfig& config) {
  const std::size_t padded = config.center ? samples + 2 * (config.nFft / 2) : samples;
  if (padded < config.nFft) {
    throw InputError("clip has " + std::to_string(samples) + " samples, fewer than nFft=" +
                     std::to_string(config.nFft) + " (use center framing or a smaller nFft)");
  }
  return 1 + (padded - config.nFft) / config.hopLength;
}

std::vector<double> periodicHannPadded(std::size_t winLength, std::size_t nFft) {
  std::vector<double> window(nFft, 0.0);
  const std::size_t offset = (nFft - winLength) / 2;
  if (winLength == 1) {  // scipy.signal.get_window('hann', 1) is [1]
    window[offset] = 1.0;
    return window;
  }
  const double step = 6.28318530717958647692 / static_cast<double>(winLength);
  for (std::size_t i = 0; i < winLength; ++i) window[offset + i] = 0.5 - 0.5 * std::cos(step * static_cast<double>(i));
  return window;
}

void powerSpectrogram(Span<const float> samples, const StftConfig& config, Span<float> out) {
  const std::size_t frames = stftFrameCount(samples.size(), config);
  if (out.size() != frames * (config.nFft / 2 + 1)) throw InputError("powerSpectrogram: output size mismatch");
  powerSpectrogramFrames(samples, 0, static_cast<int64_t>(samples.size()), 0, frames, config, out);
}

void powerSpectrogramFrames(Span<const float> buffer, int64_t bufferStart, int64_t signalLength, std::size_t firstFrame,
                            std::size_t count, const StftConfig& config, Span<float> out) {
  const std::size_t nFft = config.nFft;
  const std::size_t bins = nFft / 2 + 1;
  if (out.size() != count * bins) throw InputError("powerSpectrogramFrames: output size mismatch");
  // librosa windows and transforms in float64 (numpy.fft). We transform in float32, twice the lanes
  // per vector: the power spectrum stays within 1e-6 of the largest bin and MFCC / log-mel within the
  // parity bounds (test/parity.test.ts). Frames go through the FFT kFloatLanes at a time; a last
  // partial block fills the spare lanes with silence whose output is discarded. Lanes are independent,
  // so a frame's bits do not depend on which frames share its block.
  using Sample = float;
  constexpr std::size_t kLanes = kFloatLanes;
  RealFft<Sample, kLanes>& fft = cachedRealFft<Sample, kLanes>(nFft);
  thread_local std::vector<double> window;
  thread_local std::size_t windowFor[2] = {0, 0};
  if (windowFor[0] != config.winLength || windowFor[1] != nFft) {
    window = periodicHannPadded(config.winLength, nFft);
    windowFor[0] = config.winLength;
    windowFor[1] = nFft;
  }
  const std::ptrdiff_t windowStart = static_cast<std::ptrdiff_t>((nFft - config.winLength) / 2);
  const std::ptrdiff_t windowEnd = windowStart + static_cast<std::ptrdiff_t>(config.winLength);
  const std::ptrdiff_t pad = config.center ? static_cast<std::ptrdiff_t>(nFft / 2) : 0;
  const std::ptrdiff_t n = static_cast<std::ptrdiff_t>(signalLength);
  const std::ptrdiff_t bufferEnd = static_cast<std::ptrdiff_t>(bufferStart) + static_cast<std::ptrdiff_t>(buffer.size());
  thread_local std::vector<Sample> frameBuffers;
  frameBuffers.assign(nFft * kLanes, 0.0f);
  std::vector<float> discarded(bins);
  const Sample* lanesIn[kLanes];
  float* lanesOut[kLanes];
  for (std::size_t first = 0; first < count; first += kLanes) {
    for (std::size_t l = 0; l < kLanes; ++l) {
      Sample* frame = &frameBuffers[l * nFft];
      lanesIn[l] = frame;
      const std::size_t j = first + l;
      if (j >= count) {
        std::fill(frame, frame + nFft, Sample{0});
        lanesOut[l] = discarded.data();
        continue;
      }
      lanesOut[l] = out.data() + j * bins;
      // Window positions i read sample start + i; outside [0, n) the padded signal is zero.
      const std::ptrdiff_t start = static_cast<std::ptrdiff_t>((firstFrame + j) * config.hopLength) - pad;
      const std::ptrdiff_t lo = std::max(windowStart, -start);
      const std::ptrdiff_t hi = std::max(lo, std::min(windowEnd, n - start));
      if (hi > lo && (start + lo < bufferStart || start + hi > bufferEnd)) {
        throw InputError("powerSpectrogramFrames: frame " + std::to_string(firstFrame + j) + " reads outside the buffer");
      }
      for (std::ptrdiff_t i = windowStart; i < lo; ++i) frame[i] = Sample{0};
      const float* x = buffer.data() + (start + lo - bufferStart);
      for (std::ptrdiff_t i = lo; i < hi; ++i) frame[i] = static_cast<Sample>(window[i] * static_cast<double>(x[i - lo]));
      for (std::ptrdiff_t i = hi; i < windowEnd; ++i) frame[i] = Sample{0};
    }
    fft.power(lanesIn, lanesOut);
  }
  if (config.power == 1.0) {
    for (float& v : out) v = std::sqrt(v);
  } else if (config.power != 2.0) {
    const double exponent = config.power / 2.0;
    for (float& v : out) v = static_cast<float>(std::pow(static_cast<double>(v), exponent));
  }
}

}  // namespace ser
