#include "dsp/mel.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/simd.h"
#include "dsp/fft.h"

namespace ser {
namespace {

// Slaney's Auditory Toolbox scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
constexpr double kSlaneyHzPerMel = 200.0 / 3.0;
constexpr double kSlaneyBreakHz = 1000.0;
constexpr double kSlaneyBreakMel = kSlaneyBreakHz / kSlaneyHzPerMel;
const double kSlaneyLogStep = std::log(6.4) / 27.0;

}  // namespace

double hzToMel(double hz, MelScale scale) {
  if (scale == MelScale::Htk) return 2595.0 * std::log10(1.0 + hz / 700.0);
  if (hz >= kSlaneyBreakHz) return kSlaneyBreakMel + std::log(hz / kSlaneyBreakHz) / kSlaneyLogStep;
  return hz / kSlaneyHzPerMel;
}

double melToHz(double mel, MelScale scale) {
  if (scale == MelScale::Htk) return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
  if (mel >= kSlaneyBreakMel) return kSlaneyBreakHz * std::exp(kSlaneyLogStep * (mel - kSlaneyBreakMel));
  return kSlaneyHzPerMel * mel;
}

std::vector<float> melFilterbank(const MelConfig& config) {
  const std::size_t bins = config.nFft / 2 + 1;
  const std::size_t edges = config.nMels + 2;
  const double melLow = hzToMel(config.fminHz, config.scale);
  const double melHigh = hzToMel(config.fmaxHz, config.scale);
  std::vector<double> edgeHz(edges);
  for (std::size_t i = 0; i < edges; ++i) {
    // numpy.linspace: start + i * step, with the last point exactly the stop value
    const double step = (melHigh - melLow) / static_cast<double>(edges - 1);
    const double mel = i + 1 == edges ? melHigh : melLow + static_cast<double>(i) * step;
    edgeHz[i] = melToHz(mel, config.scale);
  }
  std::vector<double> binHz(bins);
  // numpy.fft.rfftfreq(n_fft, 1/sr): k * (1 / (n_fft * (1 / sr))), kept in that order for bit parity
  const double binStep = 1.0 / (static_cast<double>(config.nFft) * (1.0 / config.sampleRate));
  for (std::size_t k = 0; k < bins; ++k) binHz[k] = static_cast<double>(k) * binStep;

  std::vector<float> weights(config.nMels * bins, 0.0f);
  for (std::size_t m = 0; m < config.nMels; ++m) {
    const double lowerWidth = edgeHz[m + 1] - edgeHz[m];
    const double upperWidth = edgeHz[m + 2] - edgeHz[m + 1];
    const double areaNorm = 2.0 / (edgeHz[m + 2] - edgeHz[m]);
    for (std::size_t k = 0; k < bins; ++k) {
      const double rising = (binHz[k] - edgeHz[m]) / lowerWidth;
      const double falling = (edgeHz[m + 2] - binHz[k]) / upperWidth;
      // librosa stores the triangle as float32 first, then scales it in float64 and rounds again.
      float w = static_cast<float>(std::max(0.0, std::min(rising, falling)));
      if (config.norm == MelNorm::Slaney) w = static_cast<float>(static_cast<double>(w) * areaNorm);
      weights[m * bins + k] = w;
    }
  }
  return weights;
}

SparseMelBasis::SparseMelBasis(const MelConfig& config) : bins_(config.nFft / 2 + 1) {
  const std::vector<float> dense = melFilterbank(config);
  for (std::size_t m = 0; m < config.nMels; ++m) {
    const float* row = &dense[m * bins_];
    std::size_t first = 0;
    while (first < bins_ && row[first] == 0.0f) ++first;
    std::size_t last = bins_;
    while (last > first && row[last - 1] == 0.0f) --last;
    first_.push_back(first);
    length_.push_back(last - first);
    offset_.push_back(weights_.size());
    weights_.insert(weights_.end(), row + first, row + last);
  }
}

namespace {

template <std::size_t Lanes>
SER_HOT_WIDE void melInterleaved(std::size_t mels, const std::size_t* first, const std::size_t* length,
                                 const std::size_t* offset, const float* weights, const float* __restrict spectrum,
                                 float* __restrict out) {
  typedef float Vec __attribute__((vector_size(Lanes * sizeof(float))));
  for (std::size_t m = 0; m < mels; ++m) {
    const float* w = weights + offset[m];
    const float* s = spectrum + first[m] * Lanes;
    Vec acc = {};
    for (std::size_t k = 0; k < length[m]; ++k) {
      Vec x;
      std::memcpy(&x, s + k * Lanes, sizeof x);
      acc += w[k] * x;
    }
    std::memcpy(out + m * Lanes, &acc, sizeof acc);
  }
}

}  // namespace

template <std::size_t Lanes>
void SparseMelBasis::applyInterleaved(const float* spectrum, float* out) const {
  melInterleaved<Lanes>(first_.size(), first_.data(), length_.data(), offset_.data(), weights_.data(), spectrum, out);
}

template void SparseMelBasis::applyInterleaved<kFloatLanes>(const float*, float*) const;
template void SparseMelBasis::applyInterleaved<kWideFloatLanes>(const float*, float*) const;

}  // namespace ser
