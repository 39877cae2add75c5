// The feature pipeline: samples -> power spectrogram -> mel -> dB -> DCT, time-major output.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "common/span.h"
#include "dsp/mel.h"
#include "dsp/mfcc.h"
#include "dsp/stft.h"

namespace ser {

enum class FeatureKind { Power, LogMel, Mfcc };

struct FeatureConfig {
  FeatureKind kind = FeatureKind::Mfcc;
  uint32_t sampleRate = 16000;
  std::size_t nFft = 512;
  std::size_t winLength = 400;
  std::size_t hopLength = 160;
  std::size_t nMels = 64;
  std::size_t nMfcc = 40;
  double fminHz = 0;
  double fmaxHz = 8000;
  MelScale melScale = MelScale::Slaney;
  MelNorm melNorm = MelNorm::Slaney;
  std::optional<double> topDb = 80.0;
  bool center = true;
  double power = 2.0;
  double ref = 1.0;
  double amin = 1e-10;
};

// The dense mel basis is built once per config: 64 Mi floats (256 MiB) at most.
constexpr uint64_t kMaxMelBasisFloats = uint64_t{1} << 26;
// Largest FFT and mel band count a config may ask for (the addon exports these as featureLimits).
constexpr uint32_t kMaxFftSize = uint32_t{1} << 20;
constexpr uint32_t kMaxMels = 4096;

// Throws InputError naming the first option that is out of range.
void validateFeatureConfig(const FeatureConfig& config);

std::size_t featureCoeffs(const FeatureConfig& config);
std::size_t featureFrames(std::size_t samples, const FeatureConfig& config);

// The config's mel basis (logmel, mfcc) and DCT matrix (mfcc): built once per thread and config, and
// shared, because each FeatureStream (one a file) has an extractor of its own and building the basis
// took about 40% of a 3 s clip's features through the stream.
struct FeatureTables {
  std::unique_ptr<const SparseMelBasis> mel;
  std::vector<float> dct;
};

// Holds everything derived from the config (window, mel basis, DCT matrix) so a worker computes
// clip after clip without rebuilding them. Not thread-safe: one per thread.
class FeatureExtractor {
 public:
  explicit FeatureExtractor(const FeatureConfig& config);
  const FeatureConfig& config() const { return config_; }
  // out.size() must be featureFrames(samples.size()) * featureCoeffs().
  void compute(Span<const float> samples, Span<float> out);

  // The stages after the power spectrogram, for signals seen a block at a time (FeatureStream).
  // Values per frame before the dB floor: nMels (logmel, mfcc) or nFft/2 + 1 (power).
  std::size_t unflooredWidth() const;
  // Unfloored rows of frames firstFrame .. firstFrame + count - 1 of a signal of signalLength samples,
  // of which `buffer` holds indices bufferStart on (powerSpectrogramFrames' contract): the same bits
  // whichever frames share a call. Returns their largest dB value (-inf for the power kind, which has
  // no decibels) and checks the power kind for overflow.
  float unflooredFrames(Span<const float> buffer, int64_t bufferStart, int64_t signalLength, std::size_t firstFrame,
                        std::size_t count, Span<float> out);
  // The floor for the whole signal's largest dB value (throws when the spectrum overflowed).
  float floorFor(float maxDb) const;
  // Unfloored rows to features: the floor, then the DCT for mfcc.
  void finishRows(Span<float> unfloored, std::size_t frames, float floorDb, Span<float> out) const;

 private:
  FeatureConfig config_;
  StftConfig stft_;
  // The mel basis and DCT matrix, read-only and shared by the extractors of one config on a thread.
  std::shared_ptr<const FeatureTables> tables_;
  std::vector<float> melFrames_;
};

// Extractors cached per thread and config.
FeatureExtractor& cachedFeatureExtractor(const FeatureConfig& config);

}  // namespace ser
