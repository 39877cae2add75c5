// libFuzzer target: arbitrary bytes as a WAV file through the whole-file decoder and feature path, and
// through the streaming path cut into blocks at fuzzer-chosen sizes. Asserts that both agree: same
// error or same rows. Built with AddressSanitizer and UBSan by run.sh.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "common/errors.h"
#include "dsp/dsp.h"

namespace {

ser::FeatureConfig configFor(uint8_t selector) {
  ser::FeatureConfig c;
  c.kind = selector % 3 == 0 ? ser::FeatureKind::Mfcc : selector % 3 == 1 ? ser::FeatureKind::LogMel : ser::FeatureKind::Power;
  c.center = (selector & 4) == 0;
  if (selector & 8) {
    c.nFft = 256;
    c.winLength = 200;
    c.hopLength = 80;
    c.nMels = 32;
    c.nMfcc = 13;
  }
  if (selector & 16) c.topDb.reset();
  return c;
}

// Whole file: decode, resample to the config's rate, features. Returns the rows or the error text.
std::string whole(const uint8_t* data, std::size_t size, const ser::FeatureConfig& config, std::vector<float>& rows) {
  try {
    const ser::DecodedWav wav = ser::decodeWav(ser::Span<const uint8_t>(data, size));
    // Bound the work like the binding does: absurd lengths after resampling are not fuzzed further.
    if (wav.samples.size() > (1u << 20)) return "too long";
    std::vector<float> samples = wav.samples;
    if (wav.info.sampleRate != config.sampleRate) {
      const ser::ResampleRatio ratio = ser::resampleRatio(wav.info.sampleRate, config.sampleRate);
      if (ser::resampledLength(samples.size(), ratio) > (1u << 20)) return "too long";
      samples = ser::resample(ser::Span<const float>(samples), wav.info.sampleRate, config.sampleRate);
      // 16-bit mono is also resampled straight from the data chunk's bytes (the addon's path): the same bits.
      ser::WavHeader header;
      ser::parseWavHeader(ser::Span<const uint8_t>(data, size), true, header);
      if (wav.info.format == ser::SampleFormat::Pcm && wav.info.bitsPerSample == 16 && wav.info.channels == 1 &&
          header.blockAlign == 2) {
        std::vector<float> direct(samples.size());
        ser::resamplePcm16Mono(ser::Span<const uint8_t>(data + header.dataOffset, 2 * header.info.frames), ratio,
                               ser::Span<float>(direct));
        if (std::memcmp(direct.data(), samples.data(), samples.size() * sizeof(float)) != 0) std::abort();
      }
    }
    ser::FeatureExtractor extractor(config);
    const std::size_t frames = ser::featureFrames(samples.size(), config);
    rows.resize(frames * ser::featureCoeffs(config));
    extractor.compute(ser::Span<const float>(samples), ser::Span<float>(rows));
    return "";
  } catch (const ser::InputError& e) {
    return std::string("error: ") + e.what();
  }
}

std::string streamed(const uint8_t* data, std::size_t size, const ser::FeatureConfig& config, std::size_t block,
                     std::vector<float>& rows) {
  try {
    ser::FeatureStream stream(config);
    std::vector<float> unfloored;
    for (std::size_t at = 0; at < size; at += block) {
      stream.push(ser::Span<const uint8_t>(data + at, std::min(block, size - at)));
      unfloored.insert(unfloored.end(), stream.rows().begin(), stream.rows().end());
      stream.rows().clear();
      if (unfloored.size() > (1u << 24)) return "too long";
    }
    stream.finish();
    unfloored.insert(unfloored.end(), stream.rows().begin(), stream.rows().end());
    rows.resize(unfloored.size() / stream.unflooredWidth() * stream.coeffs());
    stream.finishRows(ser::Span<float>(unfloored), ser::Span<float>(rows));
    return "";
  } catch (const ser::InputError& e) {
    return std::string("error: ") + e.what();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const ser::FeatureConfig config = configFor(data[0]);
  const std::size_t block = 1 + data[1] * 7u;
  data += 2;
  size -= 2;
  std::vector<float> a, b;
  const std::string wholeResult = whole(data, size, config, a);
  if (wholeResult == "too long") return 0;
  const std::string streamResult = streamed(data, size, config, block, b);
  if (streamResult == "too long") return 0;
  // Both succeed with the same rows, or both refuse (the messages may differ in detail).
  if (wholeResult.empty() != streamResult.empty()) std::abort();
  if (wholeResult.empty()) {
    if (a.size() != b.size()) std::abort();
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!std::isfinite(a[i]) || std::fabs(a[i] - b[i]) > 1e-5f * (1.0f + std::fabs(a[i]))) std::abort();
    }
  }
  return 0;
}
