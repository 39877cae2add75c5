// Real FFT of any even size, written for this project: a mixed-radix (4, 2, 3, generic) Stockham
// complex FFT of size n/2 on split real/imaginary arrays, then the usual real-input post-processing.
//
// `Lanes` frames are transformed together, one SIMD lane per frame: element j of lane l lives at
// [j * Lanes + l], so every butterfly is a full vector operation even in the first stages, where a
// single transform has nothing to vectorise. Lanes = 1 is the plain single-frame transform.
//
// A plan holds twiddles and scratch: build it once per size and reuse it; one plan per thread.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/span.h"

namespace ser {

// Complex sizes whose largest prime factor exceeds this are refused: the generic radix costs p operations
// per element, so a size like 2 x 256 x 2039 would take minutes per second of audio. Up to 127, every
// accepted size stays within a small factor of an O(n log n) transform.
constexpr std::size_t kMaxFftPrimeFactor = 127;

template <typename T, std::size_t Lanes = 1>
class ComplexFft {
 public:
  explicit ComplexFft(std::size_t n);
  std::size_t size() const { return n_; }
  // Forward DFT (e^{-2 pi i k n / N}) in place on split, lane-interleaved arrays of size() * Lanes.
  void forward(T* re, T* im);
  // Sizes that are powers of 4 (4, 16, 256, ...): the same transform, with the same bits, from input
  // placed in base-4 digit-reversed order (element j at inputPosition(j)), computed in place without
  // the scratch arrays; the output is in natural order.
  bool inPlaceCapable() const { return inPlace_; }
  void forwardFromDigitReversed(T* re, T* im);

 private:
  struct Stage {
    std::size_t radix;
    std::size_t span;   // length of the sub-transforms already done (L)
    std::size_t count;  // sub-transforms after this stage (N / (L * radix))
    std::size_t twiddleOffset;
    std::size_t rootOffset;  // into root tables, for generic radices
  };
  std::size_t n_;
  bool inPlace_ = false;
  std::vector<Stage> stages_;
  std::vector<T> twiddleRe_, twiddleIm_;
  std::vector<T> rootRe_, rootIm_;  // e^{-2 pi i j / p} for generic radices
  std::vector<T> scratchRe_, scratchIm_, genericRe_, genericIm_;
};

template <typename T, std::size_t Lanes = 1>
class RealFft {
 public:
  static constexpr std::size_t kLanes = Lanes;
  explicit RealFft(std::size_t n);  // n even, >= 2
  std::size_t size() const { return n_; }
  std::size_t bins() const { return n_ / 2 + 1; }
  // frames[l] points at n samples of frame l. Bins 0..n/2 of each unnormalised forward DFT are written
  // interleaved (re, im) to out[l]: 2 * bins() values each. The real spectrum is unpacked from the
  // half-size transform and transposed out of the lanes in one pass (fft512 bench at f0e99ef, AMD EPYC: 3.43M
  // 512-point frames/s against 2.40M when split re / im rows were interleaved after).
  void forwardInterleaved(const T* const* frames, T* const* out);
  // |X_k|^2 of each frame, written as float to outPower[l] (bins() values each).
  void power(const T* const* frames, float* const* outPower);

  // |X_k|^2 of each frame left lane-interleaved, at [k * Lanes + l]: bins() * Lanes values, valid until
  // the next call (for callers that go on with all lanes at once, without transposing the spectra).
  const T* powerInterleaved(const T* const* frames);

 private:
  void transformPacked(const T* const* frames);
  void unpack();  // packed half-size spectrum -> spectrumRe_/Im_, lane-interleaved
  std::size_t n_;
  ComplexFft<T, Lanes> half_;
  std::vector<T> packedRe_, packedIm_;
  std::vector<T> rotRe_, rotIm_;  // e^{-2 pi i k / n}, k < n/2
  std::vector<T> spectrumRe_, spectrumIm_;
  std::vector<uint32_t> inputOrder_;  // where packed element j goes, when half_ runs in place
};

// Plans cached per thread, per size and lane count.
template <typename T, std::size_t Lanes>
RealFft<T, Lanes>& cachedRealFft(std::size_t n);

// Forward real FFT of every n-sample frame of `frames` (its size a multiple of n): bins 0..n/2 of frame
// f, unnormalised, written interleaved (re, im) from out[f * (n + 2)]; out holds frames * (n + 2) floats.
// Frames go through the transform as many at a time as a vector has float lanes.
void realFftFrames(Span<const float> frames, std::size_t n, Span<float> out);

// Lane counts the library instantiates: one AVX2 register of floats, one of doubles (wider generic
// vectors than the ISA has are lowered badly by GCC: measured 4x slower for 8 doubles on AVX2), and
// one AVX-512 register of floats, used only where wideVectors() holds.
constexpr std::size_t kFloatLanes = 8;
constexpr std::size_t kDoubleLanes = 4;
constexpr std::size_t kWideFloatLanes = 16;
// The largest FFT given kWideFloatLanes: sixteen lanes pay where a block of frames stays in cache; a
// large FFT's plan and frames would only double the per-thread memory (a 2^20-point plan holds about
// 100 MiB per 8 lanes).
constexpr std::size_t kWideLanesMaxFft = 4096;

}  // namespace ser
