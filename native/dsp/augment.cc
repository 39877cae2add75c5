#include "dsp/augment.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "common/errors.h"
#include "dsp/finite.h"
#include "dsp/dot.h"
#include "dsp/resample.h"
#include "common/simd.h"

namespace ser {
namespace {

// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough to drive noise.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1]: never 0, so log() below is finite.
  double uniform() { return (static_cast<double>(next() >> 11) + 1.0) * (1.0 / 9007199254740992.0); }

 private:
  uint64_t state_;
};

void requireAudio(Span<const float> x, const char* what) {
  if (x.empty()) throw InputError(std::string(what) + ": the clip has no samples");
  const std::size_t bad = firstNonFinite(x.data(), x.size());
  if (bad < x.size()) throw InputError(std::string(what) + ": non-finite sample at index " + std::to_string(bad));
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

double meanSquare(Span<const float> x) {
  double sum = 0.0;
  for (float v : x) sum += static_cast<double>(v) * v;
  return sum / static_cast<double>(x.size());
}

// WSOLA geometry for a sample rate: 30 ms Hann frames at 50% overlap (the window sums to exactly 1),
// and a +-8 ms search, wide enough to find a pitch-synchronous splice for f0 down to ~62 Hz.
struct WsolaGeometry {
  std::size_t frame, hop, tolerance;
  explicit WsolaGeometry(uint32_t sampleRate) {
    frame = std::max<std::size_t>(16, static_cast<std::size_t>(std::lround(0.030 * sampleRate)) & ~std::size_t{1});
    hop = frame / 2;
    tolerance = std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(0.008 * sampleRate)));
  }
};

// Normalised cross-correlation of a candidate frame with the natural continuation of the previous
// frame; energyPrefix holds running sums of squares of the candidate's buffer.
inline double spliceScore(const float* candidate, const float* continuation, std::size_t frame,
                          const double* energyPrefix, std::ptrdiff_t at) {
  const double corr = dotProduct(candidate, continuation, frame);
  const double energy = energyPrefix[at + static_cast<std::ptrdiff_t>(frame)] - energyPrefix[at];
  return corr / std::sqrt(energy + 1e-12);
}

// Best splice offset in [-tolerance, tolerance], coarse to fine: every second offset on a 2x
// decimated copy (a quarter of the work), then +-2 samples around the winner at the full rate.
struct SpliceSearch {
  const float* full;      // padded signal
  const float* half;      // pair-averaged padded signal: half[i] = (full[2i] + full[2i+1]) / 2
  const double* fullEnergy;
  const double* halfEnergy;
  std::size_t frame, tolerance;

  SER_HOT std::ptrdiff_t best(std::ptrdiff_t start, std::ptrdiff_t continuationStart) const {
    const std::ptrdiff_t tol = static_cast<std::ptrdiff_t>(tolerance);
    double bestScore = -INFINITY;
    std::ptrdiff_t coarse = 0;
    const std::size_t halfFrame = frame / 2;
    for (std::ptrdiff_t d = -tol; d <= tol; d += 2) {
      const std::ptrdiff_t at = (start + d) / 2;
      const double score = spliceScore(half + at, half + continuationStart / 2, halfFrame, halfEnergy, at);
      if (score > bestScore) {
        bestScore = score;
        coarse = d;
      }
    }
    bestScore = -INFINITY;
    std::ptrdiff_t fine = coarse;
    for (std::ptrdiff_t d = std::max(-tol, coarse - 2); d <= std::min(tol, coarse + 2); ++d) {
      const double score = spliceScore(full + start + d, full + continuationStart, frame, fullEnergy, start + d);
      if (score > bestScore) {
        bestScore = score;
        fine = d;
      }
    }
    return fine;
  }
};

std::vector<double> energyPrefix(const std::vector<float>& x) {
  std::vector<double> prefix(x.size() + 1, 0.0);
  for (std::size_t i = 0; i < x.size(); ++i) prefix[i + 1] = prefix[i] + static_cast<double>(x[i]) * x[i];
  return prefix;
}

// Continued-fraction approximation p/q of `value` with q <= maxDenominator, as a resampling ratio
// that plays the audio `value` times faster (up = q, down = p).
ResampleRatio speedRatio(double value, uint64_t maxDenominator) {
  uint64_t p0 = 0, q0 = 1, p1 = 1, q1 = 0;
  double rest = value;
  for (int i = 0; i < 64; ++i) {
    const double whole = std::floor(rest);
    const uint64_t a = static_cast<uint64_t>(whole);
    const uint64_t p2 = a * p1 + p0, q2 = a * q1 + q0;
    if (q2 > maxDenominator) break;
    p0 = p1; q0 = q1; p1 = p2; q1 = q2;
    const double frac = rest - whole;
    if (frac < 1e-12) break;
    rest = 1.0 / frac;
  }
  return ResampleRatio{q1, p1};
}

constexpr uint64_t kMaxRatioDenominator = 128;  // ratio error < 1e-4 relative: far below 1 cent

std::vector<float> resampleBy(Span<const float> x, ResampleRatio ratio) {
  std::vector<float> out(resampledLength(x.size(), ratio));
  resample(x, ratio, Span<float>(out));
  return out;
}

}  // namespace

void addNoise(Span<const float> x, double snrDb, uint64_t seed, NoiseColor color, Span<float> out) {
  requireAudio(x, "addNoise");
  if (!std::isfinite(snrDb) || snrDb < kMinSnrDb || snrDb > kMaxSnrDb) {
    throw InputError("addNoise: snrDb must be a finite number from " + num(kMinSnrDb) + " to " + num(kMaxSnrDb) +
                     ", got " + num(snrDb));
  }
  if (out.size() != x.size()) throw InputError("addNoise: output length mismatch");
  const double signalPower = meanSquare(x);
  if (signalPower == 0.0) throw InputError("addNoise: the clip is silent, so no SNR can be set against it");
  SplitMix64 rng(seed);
  std::vector<double> noise(x.size());
  // Box-Muller: two Gaussian samples per pair of uniforms.
  for (std::size_t i = 0; i < noise.size(); i += 2) {
    const double radius = std::sqrt(-2.0 * std::log(rng.uniform()));
    const double angle = 6.28318530717958647692 * rng.uniform();
    noise[i] = radius * std::cos(angle);
    if (i + 1 < noise.size()) noise[i + 1] = radius * std::sin(angle);
  }
  if (color == NoiseColor::Pink) {
    // Paul Kellet's refined 1/f filter: six leaky integrators plus direct terms, published as within
    // 0.05 dB of -3 dB/octave above 0.0002 * sampleRate (measured here, Hann-windowed: -2.7 to -3.4 dB
    // per octave from 62 Hz to 8 kHz at 16 kHz).
    double b[7] = {0, 0, 0, 0, 0, 0, 0};
    for (double& v : noise) {
      b[0] = 0.99886 * b[0] + v * 0.0555179;
      b[1] = 0.99332 * b[1] + v * 0.0750759;
      b[2] = 0.96900 * b[2] + v * 0.1538520;
      b[3] = 0.86650 * b[3] + v * 0.3104856;
      b[4] = 0.55000 * b[4] + v * 0.5329522;
      b[5] = -0.7616 * b[5] - v * 0.0168980;
      const double pink = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + v * 0.5362;
      b[6] = v * 0.115926;
      v = pink;
    }
  }
  double noisePower = 0.0;
  for (double v : noise) noisePower += v * v;
  noisePower /= static_cast<double>(noise.size());
  const double scale = std::sqrt(signalPower / (noisePower * std::pow(10.0, snrDb / 10.0)));
  constexpr double kFloatMax = 3.4028234663852886e38;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double v = x[i] + scale * noise[i];
    // A clip near the float32 limit with noise above it would come out as Inf (found by native/fuzz).
    if (!(std::fabs(v) <= kFloatMax)) {
      throw InputError("addNoise: the noisy signal exceeds the float32 range at sample " + std::to_string(i) +
                       " (samples far outside [-1, 1]?)");
    }
    out[i] = static_cast<float>(v);
  }
}

void timeShift(Span<const float> x, int64_t shiftSamples, ShiftMode mode, Span<float> out) {
  requireAudio(x, "timeShift");
  if (out.size() != x.size()) throw InputError("timeShift: output length mismatch");
  const int64_t n = static_cast<int64_t>(x.size());
  if (mode == ShiftMode::Roll) {
    const int64_t s = ((shiftSamples % n) + n) % n;
    for (int64_t i = 0; i < n; ++i) out[static_cast<std::size_t>((i + s) % n)] = x[static_cast<std::size_t>(i)];
    return;
  }
  std::fill(out.begin(), out.end(), 0.0f);
  if (shiftSamples >= n || shiftSamples <= -n) return;  // everything moved out (and no -INT64_MIN below)
  for (int64_t i = std::max<int64_t>(0, -shiftSamples); i < n && i + shiftSamples < n; ++i) {
    out[static_cast<std::size_t>(i + shiftSamples)] = x[static_cast<std::size_t>(i)];
  }
}

std::vector<float> timeStretch(Span<const float> x, double rate, uint32_t sampleRate) {
  requireAudio(x, "timeStretch");
  if (!std::isfinite(rate) || rate < kMinStretchRate || rate > kMaxStretchRate) {
    throw InputError("timeStretch: rate must be from " + num(kMinStretchRate) + " to " + num(kMaxStretchRate) +
                     ", got " + num(rate));
  }
  if (sampleRate == 0 || sampleRate > kMaxSampleRate) throw InputError("timeStretch: sampleRate out of range");
  const std::size_t n = x.size();
  const std::size_t outLength = static_cast<std::size_t>(std::llround(static_cast<double>(n) / rate));
  if (rate == 1.0) return std::vector<float>(x.begin(), x.end());

  const WsolaGeometry g(sampleRate);
  // Zero padding so every frame, continuation and search candidate reads inside the buffer.
  const std::size_t pad = 2 * (g.frame + g.tolerance) + 4;
  std::vector<float> padded(pad + n + pad + g.frame, 0.0f);
  std::copy(x.begin(), x.end(), padded.begin() + pad);
  std::vector<float> half(padded.size() / 2);
  for (std::size_t i = 0; i < half.size(); ++i) half[i] = 0.5f * (padded[2 * i] + padded[2 * i + 1]);
  const std::vector<double> fullEnergy = energyPrefix(padded);
  const std::vector<double> halfEnergy = energyPrefix(half);
  const SpliceSearch search{padded.data(), half.data(), fullEnergy.data(), halfEnergy.data(), g.frame, g.tolerance};
  std::vector<float> window(g.frame);
  for (std::size_t j = 0; j < g.frame; ++j) {
    window[j] = static_cast<float>(0.5 - 0.5 * std::cos(6.28318530717958647692 * j / static_cast<double>(g.frame)));
  }

  std::vector<float> out(outLength, 0.0f);
  const std::ptrdiff_t frame = static_cast<std::ptrdiff_t>(g.frame);
  const std::ptrdiff_t hop = static_cast<std::ptrdiff_t>(g.hop);
  const std::ptrdiff_t base = static_cast<std::ptrdiff_t>(pad);  // padded index of input sample 0
  const std::ptrdiff_t tol = static_cast<std::ptrdiff_t>(g.tolerance);
  std::ptrdiff_t previous = 0;
  // Output frame k starts at k*hop - hop so that every output sample is covered by two windows.
  for (std::ptrdiff_t k = 0;; ++k) {
    const std::ptrdiff_t outStart = k * hop - hop;
    if (outStart >= static_cast<std::ptrdiff_t>(outLength)) break;
    // Frame centres map output time t to input time t * rate.
    std::ptrdiff_t inStart = static_cast<std::ptrdiff_t>(
        std::llround((static_cast<double>(outStart) + 0.5 * frame) * rate - 0.5 * frame));
    inStart = std::clamp(inStart, -base + tol, static_cast<std::ptrdiff_t>(n) + frame);
    if (k > 0) inStart += search.best(base + inStart, base + previous + hop);
    const float* source = padded.data() + base + inStart;
    const std::ptrdiff_t first = std::max<std::ptrdiff_t>(0, -outStart);
    const std::ptrdiff_t last = std::min<std::ptrdiff_t>(frame, static_cast<std::ptrdiff_t>(outLength) - outStart);
    for (std::ptrdiff_t j = first; j < last; ++j) out[static_cast<std::size_t>(outStart + j)] += window[j] * source[j];
    previous = inStart;
  }
  return out;
}

std::vector<float> pitchShift(Span<const float> x, double semitones, uint32_t sampleRate) {
  requireAudio(x, "pitchShift");
  if (!std::isfinite(semitones) || std::fabs(semitones) > kMaxSemitones) {
    throw InputError("pitchShift: semitones must be within +-" + num(kMaxSemitones) + ", got " + num(semitones));
  }
  if (semitones == 0.0) return std::vector<float>(x.begin(), x.end());
  // librosa.effects.pitch_shift: stretch to n * factor samples at the same pitch, then play it back
  // `factor` times faster, which restores the length and moves the pitch by `factor`.
  const ResampleRatio ratio = speedRatio(std::pow(2.0, semitones / 12.0), kMaxRatioDenominator);
  const double factor = static_cast<double>(ratio.down) / static_cast<double>(ratio.up);
  const std::vector<float> stretched = timeStretch(x, 1.0 / factor, sampleRate);
  std::vector<float> out = resampleBy(Span<const float>(stretched), ratio);
  out.resize(x.size(), 0.0f);
  return out;
}

std::vector<float> changeSpeed(Span<const float> x, double factor) {
  requireAudio(x, "changeSpeed");
  if (!std::isfinite(factor) || factor < kMinStretchRate || factor > kMaxStretchRate) {
    throw InputError("changeSpeed: factor must be from " + num(kMinStretchRate) + " to " + num(kMaxStretchRate) +
                     ", got " + num(factor));
  }
  if (factor == 1.0) return std::vector<float>(x.begin(), x.end());
  return resampleBy(x, speedRatio(factor, kMaxRatioDenominator));
}

}  // namespace ser
