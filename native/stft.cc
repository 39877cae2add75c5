#include "stft.h"

#include <cmath>
#include <string>

#include "errors.h"
#include "fft.h"

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
  const double step = 6.28318530717958647692 / static_cast<double>(winLength);
  for (std::size_t i = 0; i < winLength; ++i) window[offset + i] = 0.5 - 0.5 * std::cos(step * static_cast<double>(i));
  return window;
}

void powerSpectrogram(Span<const float> samples, const StftConfig& config, Span<float> out) {
  const std::size_t nFft = config.nFft;
  const std::size_t bins = nFft / 2 + 1;
  const std::size_t frames = stftFrameCount(samples.size(), config);
  if (out.size() != frames * bins) throw InputError("powerSpectrogram: output size mismatch");
  // librosa windows and transforms in float64 (numpy.fft); so do we, for parity at the 1e-4 level.
  RealFft<double>& fft = realFftDouble(nFft);
  const std::vector<double> window = periodicHannPadded(config.winLength, nFft);
  const std::size_t windowStart = (nFft - config.winLength) / 2;
  const std::size_t windowEnd = windowStart + config.winLength;
  const std::ptrdiff_t pad = config.center ? static_cast<std::ptrdiff_t>(nFft / 2) : 0;
  const std::ptrdiff_t n = static_cast<std::ptrdiff_t>(samples.size());
  std::vector<double> frame(nFft, 0.0);
  for (std::size_t t = 0; t < frames; ++t) {
    const std::ptrdiff_t start = static_cast<std::ptrdiff_t>(t * config.hopLength) - pad;
    for (std::size_t i = windowStart; i < windowEnd; ++i) {
      const std::ptrdiff_t j = start + static_cast<std::ptrdiff_t>(i);
      frame[i] = (j >= 0 && j < n) ? window[i] * static_cast<double>(samples[static_cast<std::size_t>(j)]) : 0.0;
    }
    float* row = out.data() + t * bins;
    fft.power(frame.data(), row);
    if (config.power == 1.0) {
      for (std::size_t k = 0; k < bins; ++k) row[k] = std::sqrt(row[k]);
    } else if (config.power != 2.0) {
      const double exponent = config.power / 2.0;
      for (std::size_t k = 0; k < bins; ++k) row[k] = static_cast<float>(std::pow(static_cast<double>(row[k]), exponent));
    }
  }
}

}  // namespace ser
