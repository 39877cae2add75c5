// Decibels and cepstra as librosa: power_to_db (ref, amin, top_db over the whole clip) and the
// orthonormal DCT-II of scipy.fftpack.dct(type=2, norm='ortho') along the mel axis.
#pragma once
#include <cstddef>
#include <optional>
#include <vector>

#include "common/span.h"

namespace ser {

struct DbConfig {
  double ref = 1.0;
  double amin = 1e-10;
  std::optional<double> topDb = 80.0;  // relative to the clip's maximum; nullopt: no floor
};

// In place. The top_db floor needs the maximum of the whole clip, so this sees all frames at once.
void powerToDb(Span<float> values, const DbConfig& config);

// The two halves of powerToDb, for signals seen a block at a time: decibels without the floor
// (returns the largest value, -inf for none), then the floor once the whole signal's maximum is known.
float powerToDbUnfloored(Span<float> values, const DbConfig& config);
void applyDbFloor(Span<float> values, float floorDb);
// The floor for a signal whose largest value is maxDb; throws InputError when maxDb is not finite.
float dbFloor(float maxDb, const DbConfig& config);

// Input-major, each input's row padded with zeros to dctRowStride(nOut) floats: element (n, k) =
// s_k cos(pi k (2n + 1) / (2 nIn)), s_0 = sqrt(1/nIn), s_k = sqrt(2/nIn).
std::size_t dctRowStride(std::size_t nOut);
std::vector<float> dctOrthoMatrix(std::size_t nOut, std::size_t nIn);

// out[t][k] = sum over n of matrix[n][k] * in[t][n] for every frame t.
void applyDct(const std::vector<float>& matrix, std::size_t nOut, std::size_t nIn, Span<const float> in,
              Span<float> out);

}  // namespace ser
