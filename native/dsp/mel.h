// Mel filterbank as librosa.filters.mel: triangles on the FFT bin frequencies between n_mels + 2 edge
// points spaced evenly in mel, Slaney or HTK mel scale, Slaney area normalisation or none.
#pragma once
#include <cstddef>
#include <vector>

#include "common/span.h"

namespace ser {

enum class MelScale { Slaney, Htk };
enum class MelNorm { Slaney, None };

struct MelConfig {
  double sampleRate = 16000;
  std::size_t nFft = 512;
  std::size_t nMels = 64;
  double fminHz = 0;
  double fmaxHz = 8000;
  MelScale scale = MelScale::Slaney;
  MelNorm norm = MelNorm::Slaney;
};

double hzToMel(double hz, MelScale scale);
double melToHz(double mel, MelScale scale);

// Dense [nMels][nFft/2 + 1], float32 as librosa stores it.
std::vector<float> melFilterbank(const MelConfig& config);

// The same weights stored by non-zero range: each filter touches a few bins only.
class SparseMelBasis {
 public:
  explicit SparseMelBasis(const MelConfig& config);
  std::size_t mels() const { return first_.size(); }
  std::size_t bins() const { return bins_; }
  // out[m * Lanes + l] = sum_k weight[m][k] * spectrum[k * Lanes + l] for Lanes frames at once,
  // lane-interleaved (Lanes = 8 or 16). Each filter sums its bins in the same order for either count.
  template <std::size_t Lanes>
  void applyInterleaved(const float* spectrum, float* out) const;

 private:
  std::size_t bins_;
  std::vector<std::size_t> first_, length_, offset_;
  std::vector<float> weights_;
};

}  // namespace ser
