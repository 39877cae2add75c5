#include "dsp/stft.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "common/errors.h"
#include "common/simd.h"
#include "dsp/fft.h"
#include "dsp/mel.h"

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

namespace {

// out[i] = x[i] * window[i] in float. librosa (numpy) multiplies in double; the product then goes into
// our float32 FFT, whose rounding is far larger than the one ulp this leaves, and this skips
// converting every sample to double and back (windowSamples was 4-5% of a clip's features).
SER_HOT_WIDE void windowSamples(const float* __restrict x, const float* __restrict window, float* __restrict out,
                                std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) out[i] = x[i] * window[i];
}

// Where a block of frames reads the buffer: librosa's window, its place in the nFft frame and the
// centre padding, shared by the power and mel paths so that both frame a signal the same way.
class Framer {
 public:
  Framer(Span<const float> buffer, int64_t bufferStart, int64_t signalLength, std::size_t firstFrame, const StftConfig& config)
      : buffer_(buffer), bufferStart_(bufferStart), signalLength_(signalLength), firstFrame_(firstFrame), config_(config) {
    // The last window built on this thread, shared: a Framer keeps its own reference, so building
    // another one for other sizes never frees a window in use.
    thread_local std::shared_ptr<const std::vector<float>> window;
    thread_local std::size_t windowFor[2] = {0, 0};
    if (!window || windowFor[0] != config.winLength || windowFor[1] != config.nFft) {
      const std::vector<double> exact = periodicHannPadded(config.winLength, config.nFft);
      window = std::make_shared<const std::vector<float>>(exact.begin(), exact.end());
      windowFor[0] = config.winLength;
      windowFor[1] = config.nFft;
    }
    windowHold_ = window;
    window_ = window->data();
    windowStart_ = static_cast<std::ptrdiff_t>((config.nFft - config.winLength) / 2);
    windowEnd_ = windowStart_ + static_cast<std::ptrdiff_t>(config.winLength);
    pad_ = config.center ? static_cast<std::ptrdiff_t>(config.nFft / 2) : 0;
  }

  // Frame j (counted from firstFrame) windowed into frame[0, nFft). Window positions i read sample
  // start + i; outside [0, signalLength) the padded signal is zero.
  void window(std::size_t j, float* frame) const {
    const std::ptrdiff_t n = static_cast<std::ptrdiff_t>(signalLength_);
    const std::ptrdiff_t bufferEnd = static_cast<std::ptrdiff_t>(bufferStart_) + static_cast<std::ptrdiff_t>(buffer_.size());
    const std::ptrdiff_t start = static_cast<std::ptrdiff_t>((firstFrame_ + j) * config_.hopLength) - pad_;
    const std::ptrdiff_t lo = std::max(windowStart_, -start);
    const std::ptrdiff_t hi = std::max(lo, std::min(windowEnd_, n - start));
    if (hi > lo && (start + lo < bufferStart_ || start + hi > bufferEnd)) {
      throw InputError("STFT frame " + std::to_string(firstFrame_ + j) + " reads outside the buffer");
    }
    std::fill(frame, frame + lo, 0.0f);
    windowSamples(buffer_.data() + (start + lo - bufferStart_), window_ + lo, frame + lo, static_cast<std::size_t>(hi - lo));
    std::fill(frame + hi, frame + config_.nFft, 0.0f);
  }

 private:
  Span<const float> buffer_;
  int64_t bufferStart_, signalLength_;
  std::size_t firstFrame_;
  const StftConfig& config_;
  std::shared_ptr<const std::vector<float>> windowHold_;
  const float* window_ = nullptr;
  std::ptrdiff_t windowStart_ = 0, windowEnd_ = 0, pad_ = 0;
};

// |X|^2 to |X|^power in place (power 2 leaves it).
void applyPower(double power, float* values, std::size_t count) {
  if (power == 1.0) {
    for (std::size_t i = 0; i < count; ++i) values[i] = std::sqrt(values[i]);
  } else if (power != 2.0) {
    const double exponent = power / 2.0;
    for (std::size_t i = 0; i < count; ++i) values[i] = static_cast<float>(std::pow(static_cast<double>(values[i]), exponent));
  }
}

// Mel energies of `count` frames, Lanes frames per transform. Frames stay lane-interleaved from the
// window to the mel filters (no transposes of the 257-bin spectra); only the mel rows are written out
// frame by frame. A lane's arithmetic does not depend on its neighbours or on Lanes.
template <std::size_t Lanes>
void melFrames(const Framer& framer, std::size_t count, const StftConfig& config, const SparseMelBasis& mel, Span<float> out) {
  RealFft<float, Lanes>& fft = cachedRealFft<float, Lanes>(config.nFft);
  const std::size_t bins = config.nFft / 2 + 1;
  const std::size_t mels = mel.mels();
  thread_local std::vector<float> frames, melLanes;
  frames.resize(config.nFft * Lanes);
  melLanes.resize(mels * Lanes);
  const float* lanesIn[Lanes];
  for (std::size_t l = 0; l < Lanes; ++l) lanesIn[l] = &frames[l * config.nFft];
  for (std::size_t first = 0; first < count; first += Lanes) {
    const std::size_t lanes = std::min(Lanes, count - first);
    for (std::size_t l = 0; l < Lanes; ++l) {
      // A last partial block fills the spare lanes with silence; their output is discarded.
      float* frame = &frames[l * config.nFft];
      if (l < lanes) framer.window(first + l, frame);
      else std::fill(frame, frame + config.nFft, 0.0f);
    }
    // powerInterleaved's result is the plan's own buffer: the power exponent is taken in place.
    float* power = const_cast<float*>(fft.powerInterleaved(lanesIn));
    applyPower(config.power, power, bins * Lanes);
    mel.applyInterleaved<Lanes>(power, melLanes.data());
    for (std::size_t l = 0; l < lanes; ++l) {
      float* row = out.data() + (first + l) * mels;
      for (std::size_t m = 0; m < mels; ++m) row[m] = melLanes[m * Lanes + l];
    }
  }
}

}  // namespace

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
  constexpr std::size_t kLanes = kFloatLanes;
  RealFft<float, kLanes>& fft = cachedRealFft<float, kLanes>(nFft);
  const Framer framer(buffer, bufferStart, signalLength, firstFrame, config);
  thread_local std::vector<float> frameBuffers;
  frameBuffers.assign(nFft * kLanes, 0.0f);
  std::vector<float> discarded(bins);
  const float* lanesIn[kLanes];
  float* lanesOut[kLanes];
  for (std::size_t first = 0; first < count; first += kLanes) {
    for (std::size_t l = 0; l < kLanes; ++l) {
      float* frame = &frameBuffers[l * nFft];
      lanesIn[l] = frame;
      const std::size_t j = first + l;
      if (j >= count) {
        std::fill(frame, frame + nFft, 0.0f);
        lanesOut[l] = discarded.data();
        continue;
      }
      lanesOut[l] = out.data() + j * bins;
      framer.window(j, frame);
    }
    fft.power(lanesIn, lanesOut);
  }
  applyPower(config.power, out.data(), out.size());
}

void melSpectrogramFrames(Span<const float> buffer, int64_t bufferStart, int64_t signalLength, std::size_t firstFrame,
                          std::size_t count, const StftConfig& config, const SparseMelBasis& mel, Span<float> out) {
  if (mel.bins() != config.nFft / 2 + 1) throw InputError("melSpectrogramFrames: the mel basis is for another nFft");
  if (out.size() != count * mel.mels()) throw InputError("melSpectrogramFrames: output size mismatch");
  const Framer framer(buffer, bufferStart, signalLength, firstFrame, config);
  if (wideVectors() && config.nFft <= kWideLanesMaxFft) melFrames<kWideFloatLanes>(framer, count, config, mel, out);
  else melFrames<kFloatLanes>(framer, count, config, mel, out);
}

}  // namespace ser
