#include "dsp/features.h"

#include <cmath>
#include <algorithm>
#include <list>
#include <memory>
#include <utility>
#include <string>

#include "common/errors.h"
#include "dsp/finite.h"
#include "dsp/resample.h"

namespace ser {
namespace {

bool sameConfig(const FeatureConfig& a, const FeatureConfig& b) {
  return a.kind == b.kind && a.sampleRate == b.sampleRate && a.nFft == b.nFft && a.winLength == b.winLength &&
         a.hopLength == b.hopLength && a.nMels == b.nMels && a.nMfcc == b.nMfcc && a.fminHz == b.fminHz &&
         a.fmaxHz == b.fmaxHz && a.melScale == b.melScale && a.melNorm == b.melNorm && a.topDb == b.topDb &&
         a.center == b.center && a.power == b.power && a.ref == b.ref && a.amin == b.amin;
}

void require(bool ok, const std::string& message) {
  if (!ok) throw InputError(message);
}

std::string num(double v) {
  std::string s = std::to_string(v);
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

void validateFeatureConfig(const FeatureConfig& c) {
  require(c.sampleRate >= 1 && c.sampleRate <= kMaxSampleRate,
          "sampleRate must be 1.." + std::to_string(kMaxSampleRate) + " Hz, got " + std::to_string(c.sampleRate));
  require(c.nFft >= 2 && c.nFft <= kMaxFftSize && c.nFft % 2 == 0,
          "nFft must be an even number from 2 to " + std::to_string(kMaxFftSize) + ", got " + std::to_string(c.nFft));
  require(c.winLength >= 1 && c.winLength <= c.nFft,
          "winLength must be 1..nFft (" + std::to_string(c.nFft) + "), got " + std::to_string(c.winLength));
  require(c.hopLength >= 1, "hopLength must be at least 1");
  require(std::isfinite(c.power) && c.power > 0, "power must be a positive number, got " + num(c.power));
  if (c.kind == FeatureKind::Power) return;
  require(c.nMels >= 1 && c.nMels <= kMaxMels, "nMels must be 1.." + std::to_string(kMaxMels) + ", got " + std::to_string(c.nMels));
  require(static_cast<uint64_t>(c.nMels) * (c.nFft / 2 + 1) <= kMaxMelBasisFloats,
          "nMels x (nFft/2 + 1) must be at most " + std::to_string(kMaxMelBasisFloats) + " (the mel basis), got " +
              std::to_string(c.nMels) + " x " + std::to_string(c.nFft / 2 + 1));
  require(std::isfinite(c.fminHz) && c.fminHz >= 0, "fmin must be >= 0 Hz, got " + num(c.fminHz));
  require(std::isfinite(c.fmaxHz) && c.fmaxHz > c.fminHz && c.fmaxHz <= c.sampleRate / 2.0,
          "fmax must be above fmin (" + num(c.fminHz) + ") and at most sampleRate/2 (" + num(c.sampleRate / 2.0) +
              "), got " + num(c.fmaxHz));
  // Decibels are taken in float32: an amin that rounds to 0 would turn silence into -inf.
  constexpr double kFloatMinNormal = 1.1754943508222875e-38;
  constexpr double kFloatMax = 3.4028234663852886e38;
  require(c.amin >= kFloatMinNormal && c.amin <= kFloatMax,
          "amin must be a normal float32 number (1.17549e-38 .. 3.40282e38), got " + std::to_string(c.amin));
  require(c.ref >= kFloatMinNormal && c.ref <= kFloatMax,
          "ref must be a normal float32 number (1.17549e-38 .. 3.40282e38), got " + std::to_string(c.ref));
  require(!c.topDb || (std::isfinite(*c.topDb) && *c.topDb >= 0), "topDb must be >= 0 dB or none");
  if (c.kind == FeatureKind::Mfcc) {
    require(c.nMfcc >= 1 && c.nMfcc <= c.nMels,
            "nMfcc must be 1..nMels (" + std::to_string(c.nMels) + "), got " + std::to_string(c.nMfcc));
  }
}

std::size_t featureCoeffs(const FeatureConfig& c) {
  switch (c.kind) {
    case FeatureKind::Power: return c.nFft / 2 + 1;
    case FeatureKind::LogMel: return c.nMels;
    default: return c.nMfcc;
  }
}

std::size_t featureFrames(std::size_t samples, const FeatureConfig& c) {
  if (samples == 0) throw InputError("clip has no samples");
  return stftFrameCount(samples, StftConfig{c.nFft, c.winLength, c.hopLength, c.center, c.power});
}

namespace {

std::shared_ptr<const FeatureTables> buildTables(const FeatureConfig& config) {
  auto tables = std::make_shared<FeatureTables>();
  if (config.kind != FeatureKind::Power) {
    tables->mel = std::make_unique<const SparseMelBasis>(
        MelConfig{static_cast<double>(config.sampleRate), config.nFft, config.nMels, config.fminHz, config.fmaxHz,
                  config.melScale, config.melNorm});
  }
  if (config.kind == FeatureKind::Mfcc) tables->dct = dctOrthoMatrix(config.nMfcc, config.nMels);
  return tables;
}

// At most the dense size of the tables (the mel basis is stored sparse, so less).
std::size_t tableBytes(const FeatureConfig& config) {
  const std::size_t bins = config.nFft / 2 + 1;
  std::size_t bytes = 0;
  if (config.kind != FeatureKind::Power) bytes += static_cast<std::size_t>(config.nMels) * bins * sizeof(float);
  if (config.kind == FeatureKind::Mfcc) bytes += static_cast<std::size_t>(config.nMfcc) * config.nMels * sizeof(float);
  return bytes;
}

// The tables of the last few configs used on this thread, bounded by count and bytes (a large basis
// is kept only while it is the most recent). An extractor keeps its own reference, so evicting one
// never frees tables in use.
std::shared_ptr<const FeatureTables> cachedTables(const FeatureConfig& config) {
  constexpr std::size_t kMaxEntries = 8;
  constexpr std::size_t kMaxBytes = std::size_t{32} << 20;
  thread_local std::list<std::pair<FeatureConfig, std::shared_ptr<const FeatureTables>>> cache;
  for (auto it = cache.begin(); it != cache.end(); ++it) {
    if (sameConfig(it->first, config)) {
      cache.splice(cache.begin(), cache, it);
      return cache.front().second;
    }
  }
  cache.emplace_front(config, buildTables(config));
  std::size_t bytes = 0, kept = 0;
  for (auto it = cache.begin(); it != cache.end();) {
    bytes += tableBytes(it->first);
    if (kept > 0 && (kept >= kMaxEntries || bytes > kMaxBytes)) {
      it = cache.erase(it);
    } else {
      ++it;
      ++kept;
    }
  }
  return cache.front().second;
}

}  // namespace

FeatureExtractor::FeatureExtractor(const FeatureConfig& config) : config_(config) {
  validateFeatureConfig(config);
  stft_ = StftConfig{config.nFft, config.winLength, config.hopLength, config.center, config.power};
  tables_ = cachedTables(config);
}

void FeatureExtractor::compute(Span<const float> samples, Span<float> out) {
  const std::size_t bad = firstNonFinite(samples.data(), samples.size());
  if (bad < samples.size()) throw InputError("non-finite sample (NaN or Inf) at index " + std::to_string(bad));
  const std::size_t frames = featureFrames(samples.size(), config_);
  const std::size_t coeffs = featureCoeffs(config_);
  if (out.size() != frames * coeffs) throw InputError("feature output buffer has the wrong size");
  const int64_t length = static_cast<int64_t>(samples.size());
  if (config_.kind != FeatureKind::Mfcc) {
    // Power and log-mel rows are the unfloored rows, floored in place.
    const float maxDb = unflooredFrames(samples, 0, length, 0, frames, out);
    finishRows(out, frames, floorFor(maxDb), out);
    return;
  }
  melFrames_.resize(frames * config_.nMels);
  Span<float> mel(melFrames_.data(), melFrames_.size());
  const float maxDb = unflooredFrames(samples, 0, length, 0, frames, mel);
  finishRows(mel, frames, floorFor(maxDb), out);
}

std::size_t FeatureExtractor::unflooredWidth() const {
  return config_.kind == FeatureKind::Power ? config_.nFft / 2 + 1 : config_.nMels;
}

float FeatureExtractor::unflooredFrames(Span<const float> buffer, int64_t bufferStart, int64_t signalLength,
                                        std::size_t firstFrame, std::size_t count, Span<float> out) {
  if (out.size() != count * unflooredWidth()) throw InputError("unflooredFrames: size mismatch");
  if (config_.kind == FeatureKind::Power) {
    powerSpectrogramFrames(buffer, bufferStart, signalLength, firstFrame, count, stft_, out);
    // logmel and mfcc refuse a spectrum that overflowed float32 (in floorFor); so does the power kind.
    for (float v : out) {
      if (!std::isfinite(v)) throw InputError("the spectrum overflowed float32 (samples far outside [-1, 1]?)");
    }
    return -INFINITY;
  }
  melSpectrogramFrames(buffer, bufferStart, signalLength, firstFrame, count, stft_, *tables_->mel, out);
  return powerToDbUnfloored(out, DbConfig{config_.ref, config_.amin, config_.topDb});
}

float FeatureExtractor::floorFor(float maxDb) const {
  if (config_.kind == FeatureKind::Power) return -INFINITY;
  return dbFloor(maxDb, DbConfig{config_.ref, config_.amin, config_.topDb});
}

void FeatureExtractor::finishRows(Span<float> unfloored, std::size_t frames, float floorDb, Span<float> out) const {
  const std::size_t coeffs = featureCoeffs(config_);
  if (unfloored.size() != frames * unflooredWidth() || out.size() != frames * coeffs) {
    throw InputError("finishRows: size mismatch");
  }
  if (config_.kind == FeatureKind::Power) {
    if (out.data() != unfloored.data()) std::copy(unfloored.begin(), unfloored.end(), out.begin());
    return;
  }
  if (config_.topDb) applyDbFloor(unfloored, floorDb);
  if (config_.kind == FeatureKind::Mfcc) {
    applyDct(tables_->dct, config_.nMfcc, config_.nMels, unfloored, out);
  } else if (out.data() != unfloored.data()) {
    std::copy(unfloored.begin(), unfloored.end(), out.begin());
  }
}

FeatureExtractor& cachedFeatureExtractor(const FeatureConfig& config) {
  // A handful of configs per thread at most; a short list beats a hash of every field.
  thread_local std::list<FeatureExtractor> extractors;
  for (auto it = extractors.begin(); it != extractors.end(); ++it) {
    if (sameConfig(it->config(), config)) {
      extractors.splice(extractors.begin(), extractors, it);
      return extractors.front();
    }
  }
  extractors.emplace_front(config);
  if (extractors.size() > 8) extractors.pop_back();
  return extractors.front();
}

}  // namespace ser
