// Real FFT of any even size, written for this project: a mixed-radix (4, 2, 3, generic) Stockham
// complex FFT of size n/2 on split real/imaginary arrays, then the usual real-input post-processing.
// A plan holds twiddles and scratch: build it once per size and reuse it; one plan per thread.
#pragma once
#include <cstddef>
#include <vector>

namespace ser {

template <typename T>
class ComplexFft {
 public:
  explicit ComplexFft(std::size_t n);
  std::size_t size() const { return n_; }
  // Forward DFT (e^{-2 pi i k n / N}) in place on split arrays of length size().
  void forward(T* re, T* im);

 private:
  struct Stage {
    std::size_t radix;
    std::size_t span;   // length of the sub-transforms already done (L)
    std::size_t count;  // sub-transforms after this stage (N / (L * radix))
    std::size_t twiddleOffset;
  };
  std::size_t n_;
  std::vector<Stage> stages_;
  std::vector<T> twiddleRe_, twiddleIm_;
  std::vector<T> scratchRe_, scratchIm_;
  std::vector<T> rootRe_, rootIm_;  // e^{-2 pi i j / p} for generic radices, per stage
};

template <typename T>
class RealFft {
 public:
  explicit RealFft(std::size_t n);  // n even, >= 2
  std::size_t size() const { return n_; }
  std::size_t bins() const { return n_ / 2 + 1; }
  // Bins 0..n/2 of the unnormalised forward DFT of `input` (n samples).
  void forward(const T* input, T* outRe, T* outIm);
  // |X_k|^2 for bins 0..n/2, written as float.
  void power(const T* input, float* outPower);

 private:
  void transformPacked(const T* input);
  std::size_t n_;
  ComplexFft<T> half_;
  std::vector<T> packedRe_, packedIm_;
  std::vector<T> rotRe_, rotIm_;  // e^{-2 pi i k / n}, k < n/2
};

// Plans cached per thread and per size.
RealFft<float>& realFftFloat(std::size_t n);
RealFft<double>& realFftDouble(std::size_t n);

extern template class ComplexFft<float>;
extern template class ComplexFft<double>;
extern template class RealFft<float>;
extern template class RealFft<double>;

}  // namespace ser
