// libFuzzer target: fuzzer-chosen feature and augmentation parameters on a short fuzzer-chosen signal.
// Every call either returns finite output of the documented length or throws InputError; nothing else.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/errors.h"
#include "dsp/dsp.h"

namespace {

struct Reader {
  const uint8_t* data;
  std::size_t size;
  template <typename T>
  T take() {
    T v{};
    if (size >= sizeof(T)) {
      std::memcpy(&v, data, sizeof(T));
      data += sizeof(T);
      size -= sizeof(T);
    }
    return v;
  }
};

void checkFinite(const std::vector<float>& v) {
  for (float x : v) {
    if (!std::isfinite(x)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  Reader in{data, size};
  ser::FeatureConfig c;
  const uint8_t kind = in.take<uint8_t>();
  c.kind = kind % 3 == 0 ? ser::FeatureKind::Mfcc : kind % 3 == 1 ? ser::FeatureKind::LogMel : ser::FeatureKind::Power;
  c.sampleRate = 1 + in.take<uint32_t>() % 96000;
  c.nFft = 2 * (1 + in.take<uint16_t>() % 2048);
  c.winLength = 1 + in.take<uint16_t>() % c.nFft;
  c.hopLength = 1 + in.take<uint16_t>() % 4096;
  c.nMels = 1 + in.take<uint8_t>();
  c.nMfcc = 1 + in.take<uint8_t>() % c.nMels;
  c.fminHz = in.take<float>();
  c.fmaxHz = in.take<float>();
  c.center = (kind & 8) != 0;
  c.power = in.take<float>();
  c.ref = in.take<float>();
  c.amin = in.take<float>();
  if (kind & 16) c.topDb.reset(); else c.topDb = in.take<float>();
  const double snrDb = in.take<double>();
  const double rate = in.take<double>();
  const double semitones = in.take<double>();
  const int32_t shift = in.take<int32_t>();
  std::vector<float> samples(in.size / sizeof(float));
  if (!samples.empty()) std::memcpy(samples.data(), in.data, samples.size() * sizeof(float));
  if (samples.size() > 1u << 16) samples.resize(1u << 16);
  try {
    ser::FeatureExtractor extractor(c);
    const std::size_t frames = ser::featureFrames(samples.size(), c);
    if (frames * ser::featureCoeffs(c) < (1u << 22)) {
      std::vector<float> out(frames * ser::featureCoeffs(c));
      extractor.compute(ser::Span<const float>(samples), ser::Span<float>(out));
      checkFinite(out);
    }
  } catch (const ser::InputError&) {
  }
  const ser::Span<const float> x(samples);
  try {
    std::vector<float> out(samples.size());
    ser::addNoise(x, snrDb, 7, (kind & 32) ? ser::NoiseColor::Pink : ser::NoiseColor::White, ser::Span<float>(out));
    checkFinite(out);
  } catch (const ser::InputError&) {
  }
  try {
    std::vector<float> out(samples.size());
    ser::timeShift(x, shift, (kind & 64) ? ser::ShiftMode::Roll : ser::ShiftMode::Zero, ser::Span<float>(out));
  } catch (const ser::InputError&) {
  }
  try {
    checkFinite(ser::timeStretch(x, rate, c.sampleRate));
  } catch (const ser::InputError&) {
  }
  try {
    checkFinite(ser::pitchShift(x, semitones, c.sampleRate));
  } catch (const ser::InputError&) {
  }
  try {
    checkFinite(ser::changeSpeed(x, rate));
  } catch (const ser::InputError&) {
  }
  try {
    const double scaled = std::fmod(std::fabs(rate) * 1000.0, 768000.0);
    if (std::isfinite(scaled)) checkFinite(ser::resample(x, 1 + static_cast<uint32_t>(scaled), c.sampleRate));
  } catch (const ser::InputError&) {
  }
  return 0;
}
