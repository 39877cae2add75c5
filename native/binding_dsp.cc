// The audio engine's exports: WAV, resampling, features, FFT and augmentation.
#include <napi.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "binding_util.h"
#include "dsp/dsp.h"

namespace binding {
namespace {

uint32_t requireRate(const Napi::Value& value, const std::string& what) {
  const uint64_t v = requireCount(value, what);
  if (v == 0 || v > ser::kMaxSampleRate) {
    throw InputError(what + " must be 1.." + std::to_string(ser::kMaxSampleRate) + " Hz, got " + std::to_string(v));
  }
  return static_cast<uint32_t>(v);
}

ser::MelScale parseMelScale(const Napi::Value& v) {
  const std::string s = requireString(v, "melScale");
  if (s == "slaney") return ser::MelScale::Slaney;
  if (s == "htk") return ser::MelScale::Htk;
  throw InputError("melScale must be 'slaney' or 'htk', got '" + s + "'");
}

ser::MelNorm parseMelNorm(const Napi::Value& v) {
  const std::string s = requireString(v, "melNorm");
  if (s == "slaney") return ser::MelNorm::Slaney;
  if (s == "none") return ser::MelNorm::None;
  throw InputError("melNorm must be 'slaney' or 'none', got '" + s + "'");
}

ser::FeatureConfig parseFeatureConfig(const Napi::Object& o) {
  ser::FeatureConfig c;
  const std::string kind = requireString(o.Get("kind"), "kind");
  if (kind == "mfcc") c.kind = ser::FeatureKind::Mfcc;
  else if (kind == "logmel") c.kind = ser::FeatureKind::LogMel;
  else if (kind == "power") c.kind = ser::FeatureKind::Power;
  else throw InputError("kind must be 'mfcc', 'logmel' or 'power', got '" + kind + "'");
  c.sampleRate = requireRate(o.Get("sampleRate"), "sampleRate");
  c.nFft = requireCount(o.Get("nFft"), "nFft");
  c.winLength = requireCount(o.Get("winLength"), "winLength");
  c.hopLength = requireCount(o.Get("hopLength"), "hopLength");
  c.nMels = requireCount(o.Get("nMels"), "nMels");
  c.nMfcc = requireCount(o.Get("nMfcc"), "nMfcc");
  c.fminHz = requireNumber(o.Get("fmin"), "fmin");
  c.fmaxHz = requireNumber(o.Get("fmax"), "fmax");
  c.melScale = parseMelScale(o.Get("melScale"));
  c.melNorm = parseMelNorm(o.Get("melNorm"));
  const Napi::Value topDb = o.Get("topDb");
  if (topDb.IsNull() || topDb.IsUndefined()) c.topDb.reset();
  else c.topDb = requireNumber(topDb, "topDb");
  const Napi::Value center = o.Get("center");
  if (!center.IsBoolean()) throw InputError("center must be a boolean");
  c.center = center.As<Napi::Boolean>().Value();
  c.power = requireNumber(o.Get("power"), "power");
  c.ref = requireNumber(o.Get("ref"), "ref");
  c.amin = requireNumber(o.Get("amin"), "amin");
  ser::validateFeatureConfig(c);
  return c;
}

Napi::Object featureResult(Napi::Env env, Napi::Float32Array data, std::size_t frames, std::size_t coeffs) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("data", data);
  result.Set("frames", Napi::Number::New(env, static_cast<double>(frames)));
  result.Set("coeffs", Napi::Number::New(env, static_cast<double>(coeffs)));
  return result;
}

Napi::Float32Array computeInto(Napi::Env env, ser::Span<const float> samples, const ser::FeatureConfig& config,
                               std::size_t& frames, std::size_t& coeffs) {
  ser::FeatureExtractor& extractor = ser::cachedFeatureExtractor(config);
  frames = ser::featureFrames(samples.size(), config);
  coeffs = ser::featureCoeffs(config);
  // compute() writes every value (or throws, and the array is dropped).
  auto out = newFloat32ArrayForWriting(env, static_cast<uint64_t>(frames) * coeffs, "the features");
  extractor.compute(samples, ser::Span<float>(out.Data(), out.ElementLength()));
  return out;
}

// --- exports --------------------------------------------------------------------------------------

Napi::Value DecodeWav(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ser::DecodedWav wav = ser::decodeWav(requireBytes(info, 0, "wav bytes"));
  Napi::Object result = Napi::Object::New(env);
  result.Set("sampleRate", Napi::Number::New(env, wav.info.sampleRate));
  result.Set("channels", Napi::Number::New(env, wav.info.channels));
  result.Set("bitsPerSample", Napi::Number::New(env, wav.info.bitsPerSample));
  result.Set("sampleFormat", Napi::String::New(env, wav.info.format == ser::SampleFormat::Float ? "float" : "pcm"));
  result.Set("samples", toFloat32Array(env, wav.samples));
  return result;
}

Napi::Value EncodeWav16(const Napi::CallbackInfo& info) {
  const ser::Span<const float> samples = requireFloat32(info, 0, "samples");
  const uint32_t rate = requireRate(info[1], "sampleRate");
  const std::vector<uint8_t> bytes = ser::encodeWavPcm16(samples, rate);
  auto out = Napi::Uint8Array::New(info.Env(), bytes.size());
  std::memcpy(out.Data(), bytes.data(), bytes.size());
  return out;
}

Napi::Value Resample(const Napi::CallbackInfo& info) {
  const ser::Span<const float> samples = requireFloat32(info, 0, "samples");
  const ser::ResampleRatio ratio =
      ser::resampleRatio(requireRate(info[1], "fromRate"), requireRate(info[2], "toRate"));
  auto out = newFloat32ArrayForWriting(info.Env(), ser::resampledLength(samples.size(), ratio), "the resampled audio");
  ser::resample(samples, ratio, ser::Span<float>(out.Data(), out.ElementLength()));
  return out;
}

Napi::Value ComputeFeatures(const Napi::CallbackInfo& info) {
  const ser::Span<const float> samples = requireFloat32(info, 0, "samples");
  const ser::FeatureConfig config = parseFeatureConfig(requireObject(info, 1, "config"));
  std::size_t frames = 0, coeffs = 0;
  auto data = computeInto(info.Env(), samples, config, frames, coeffs);
  return featureResult(info.Env(), data, frames, coeffs);
}

// A clip's decoded and resampled samples go to this thread's scratch, reused call after call: fresh
// vectors of a clip's size cost a zero fill and page faults on every call. Longer inputs get their own,
// so the scratch stays within 2 x 8 MiB a thread.
constexpr std::size_t kScratchFloats = std::size_t{1} << 21;

float* scratchOrOwn(std::vector<float>& scratch, std::vector<float>& own, std::size_t count) {
  std::vector<float>& target = count <= kScratchFloats ? scratch : own;
  if (target.size() < count) target.resize(count);
  return target.data();
}

// A WAV's samples at config.sampleRate, in this thread's scratch (or `own` for long inputs): 16-bit
// mono at an integer multiple of the rate is resampled straight from the file's bytes, everything else
// decoded first.
ser::Span<const float> samplesAtConfigRate(ser::Span<const uint8_t> bytes, const ser::WavHeader& header,
                                           const ser::FeatureConfig& config, std::vector<float>& decodedOwn,
                                           std::vector<float>& resampledOwn) {
  thread_local std::vector<float> decodedScratch, resampledScratch;
  const ser::WavInfo& wav = header.info;
  const bool resampling = wav.sampleRate != config.sampleRate;
  std::size_t resampledLength = 0;
  ser::ResampleRatio ratio;
  if (resampling) {
    ratio = ser::resampleRatio(wav.sampleRate, config.sampleRate);
    resampledLength = ser::resampledLength(wav.frames, ratio);
    if (resampledLength > kMaxOutputFloats) {
      throw InputError("resampling " + std::to_string(wav.frames) + " samples from " + std::to_string(wav.sampleRate) +
                       " Hz to " + std::to_string(config.sampleRate) + " Hz would exceed the size limit (is the file's rate right?)");
    }
  }
  // Only integer decimation reads the bytes directly; resamplePcm16Mono decodes other ratios into a
  // fresh vector, where the decoded scratch below is reused clip after clip.
  if (resampling && ratio.up == 1 && wav.format == ser::SampleFormat::Pcm && wav.bitsPerSample == 16 &&
      wav.channels == 1 && header.blockAlign == 2) {
    float* resampled = scratchOrOwn(resampledScratch, resampledOwn, resampledLength);
    ser::resamplePcm16Mono(ser::Span<const uint8_t>(bytes.data() + header.dataOffset, 2 * wav.frames), ratio,
                           ser::Span<float>(resampled, resampledLength));
    return ser::Span<const float>(resampled, resampledLength);
  }
  float* decoded = scratchOrOwn(decodedScratch, decodedOwn, wav.frames);
  ser::decodeWavData(bytes, header, ser::Span<float>(decoded, wav.frames));
  ser::Span<const float> samples(decoded, wav.frames);
  if (!resampling) return samples;
  float* resampled = scratchOrOwn(resampledScratch, resampledOwn, resampledLength);
  ser::resample(samples, ratio, ser::Span<float>(resampled, resampledLength));
  return ser::Span<const float>(resampled, resampledLength);
}

// What wavFeaturesInto computed, besides the values.
struct WavFeatureShape {
  std::size_t frames = 0, coeffs = 0;
  uint32_t sourceSampleRate = 0;
  double seconds = 0;
};

// A WAV's features at config.sampleRate, written to the frames x coeffs floats that allocate(count)
// returns: wavToFeatures gives it a new JS array, the async work a buffer of its own (no N-API on the
// pool thread). Both compute the same values the same way.
template <typename Allocate>
WavFeatureShape wavFeaturesInto(ser::Span<const uint8_t> bytes, const ser::FeatureConfig& config, Allocate allocate) {
  ser::WavHeader header;
  ser::parseWavHeader(bytes, true, header);
  std::vector<float> decodedOwn, resampledOwn;
  const ser::Span<const float> samples = samplesAtConfigRate(bytes, header, config, decodedOwn, resampledOwn);
  ser::FeatureExtractor& extractor = ser::cachedFeatureExtractor(config);
  WavFeatureShape shape;
  shape.frames = ser::featureFrames(samples.size(), config);
  shape.coeffs = ser::featureCoeffs(config);
  const uint64_t count = static_cast<uint64_t>(shape.frames) * shape.coeffs;
  if (count > kMaxOutputFloats) {
    throw InputError("the features would need " + std::to_string(count) + " floats, more than the limit of " +
                     std::to_string(kMaxOutputFloats) + " (check the sample rates and sizes)");
  }
  float* out = allocate(static_cast<std::size_t>(count));
  // compute() writes every value (or throws, and the buffer is dropped).
  extractor.compute(samples, ser::Span<float>(out, static_cast<std::size_t>(count)));
  shape.sourceSampleRate = header.info.sampleRate;
  shape.seconds = static_cast<double>(header.info.frames) / header.info.sampleRate;
  return shape;
}

Napi::Object wavFeatureResult(Napi::Env env, const Napi::Float32Array& data, const WavFeatureShape& shape) {
  Napi::Object result = featureResult(env, data, shape.frames, shape.coeffs);
  result.Set("sourceSampleRate", Napi::Number::New(env, shape.sourceSampleRate));
  result.Set("seconds", Napi::Number::New(env, shape.seconds));
  return result;
}

Napi::Value WavToFeatures(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ser::Span<const uint8_t> bytes = requireBytes(info, 0, "wav bytes");
  const ser::FeatureConfig config = parseFeatureConfig(requireObject(info, 1, "config"));
  Napi::Float32Array data;
  const WavFeatureShape shape = wavFeaturesInto(bytes, config, [&](std::size_t count) {
    data = newFloat32ArrayForWriting(env, count, "the features");
    return data.Data();
  });
  return wavFeatureResult(env, data, shape);
}

// wavFileToFeatures(path, config, maxBytes): a promise of wavToFeatures' result for a WAV file of at
// most maxBytes, read and computed on libuv's thread pool as N-API async work; null for a longer file
// (the caller streams it instead). A clip through a worker thread of the library's pool cost a
// message each way (about 90-110 us a clip on these hosts, more than half its features' time); here
// the caller's thread only copies the result into its array, on the main heap (huge-page advice).
class WavFileFeaturesWork : public Napi::AsyncWorker {
 public:
  WavFileFeaturesWork(Napi::Env env, std::string path, const ser::FeatureConfig& config, uint64_t maxBytes)
      : Napi::AsyncWorker(env, "wavFileToFeatures"),
        deferred_(Napi::Promise::Deferred::New(env)),
        path_(std::move(path)),
        config_(config),
        maxBytes_(maxBytes) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      // The file's bytes in a buffer this pool thread keeps (no fresh pages a clip).
      thread_local std::vector<uint8_t> bytes;
      if (!readWhole(bytes)) return;
      shape_ = wavFeaturesInto(ser::Span<const uint8_t>(bytes.data(), length_), config_, [&](std::size_t count) {
        features_.resize(count);
        return features_.data();
      });
    } catch (const std::bad_alloc&) {
      SetError("out of memory");
    } catch (const std::exception& error) {
      SetError(error.what());
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    try {
      if (tooLong_) {
        deferred_.Resolve(env.Null());
        return;
      }
      auto data = newFloat32ArrayForWriting(env, features_.size(), "the features");
      if (!features_.empty()) std::memcpy(data.Data(), features_.data(), features_.size() * sizeof(float));
      deferred_.Resolve(wavFeatureResult(env, data, shape_));
    } catch (const Napi::Error& error) {
      deferred_.Reject(error.Value());
    } catch (const std::exception& error) {
      deferred_.Reject(Napi::Error::New(env, error.what()).Value());
    }
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  // The whole file into `bytes` (length_ of them); false, with tooLong_ set, for a file over maxBytes_.
  // Failures are errors naming what went wrong (the caller names the file).
  bool readWhole(std::vector<uint8_t>& bytes) {
    // Looked at before it is opened: opening a named pipe would wait for its writer, and the stream
    // that reads it instead must be its only reader.
    struct stat named;
    if (::stat(path_.c_str(), &named) != 0) throw InputError(errno == ENOENT ? "no such file" : std::string("cannot open: ") + std::strerror(errno));
    if (S_ISDIR(named.st_mode)) throw InputError("is a directory");
    if (!S_ISREG(named.st_mode) || static_cast<uint64_t>(named.st_size) > maxBytes_) {
      tooLong_ = true;
      return false;
    }
    // O_NONBLOCK: should the path have become a pipe since, the open does not wait (and fstat sends it on).
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) throw InputError(errno == ENOENT ? "no such file" : std::string("cannot open: ") + std::strerror(errno));
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat info;
    if (::fstat(fd, &info) != 0) throw InputError(std::string("cannot read: ") + std::strerror(errno));
    if (S_ISDIR(info.st_mode)) throw InputError("is a directory");
    // A file that is not a regular one (a pipe, a device) has no size to trust: the stream reads it.
    if (!S_ISREG(info.st_mode) || static_cast<uint64_t>(info.st_size) > maxBytes_) {
      tooLong_ = true;
      return false;
    }
    // Read to the end, whatever the size said (a file that grew since, a file system whose sizes are
    // stale): past maxBytes it goes to the stream instead.
    std::size_t done = 0;
    for (;;) {
      if (done > maxBytes_) {
        tooLong_ = true;
        return false;
      }
      const std::size_t capacity = std::max<std::size_t>(static_cast<std::size_t>(info.st_size) + 1, done + (std::size_t{64} << 10));
      const std::size_t limit = std::min<std::size_t>(capacity, static_cast<std::size_t>(maxBytes_) + 1);
      if (bytes.size() < limit) bytes.resize(limit);
      const ssize_t got = ::read(fd, bytes.data() + done, limit - done);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw InputError(std::string("cannot read: ") + std::strerror(errno));
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    length_ = done;
    return true;
  }

  Napi::Promise::Deferred deferred_;
  std::string path_;
  ser::FeatureConfig config_;
  uint64_t maxBytes_;
  bool tooLong_ = false;
  std::size_t length_ = 0;
  std::vector<float> features_;
  WavFeatureShape shape_;
};

Napi::Value WavFileToFeatures(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = requireString(info.Length() > 0 ? info[0] : env.Undefined(), "path");
  if (path.empty() || path.find('\0') != std::string::npos) throw InputError("path must be a file name");
  const ser::FeatureConfig config = parseFeatureConfig(requireObject(info, 1, "config"));
  const uint64_t maxBytes = requireCount(info.Length() > 2 ? info[2] : env.Undefined(), "maxBytes");
  if (maxBytes > (uint64_t{1} << 30)) throw InputError("maxBytes must be at most 1 GiB");
  auto* work = new WavFileFeaturesWork(env, path, config, maxBytes);  // N-API deletes it when done
  Napi::Promise promise = work->promise();
  work->Queue();
  return promise;
}

// One cache row from WAV bytes, as prepare's workers write it: the clip at config.sampleRate, cropped
// to [cropStart, cropStart + cropLength) (zeros past its end), its features written into `features`
// and the cropped audio into `audio` (when given): no JS arrays in between.
Napi::Value ClipRowInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ser::Span<const uint8_t> bytes = requireBytes(info, 0, "wav bytes");
  const ser::FeatureConfig config = parseFeatureConfig(requireObject(info, 1, "config"));
  const uint64_t cropStart = requireCount(info[2], "cropStart");
  const uint64_t cropLength = requireCount(info[3], "cropLength");
  const ser::Span<const float> features = requireFloat32(info, 4, "features");
  const bool withAudio = info.Length() > 5 && !info[5].IsUndefined() && !info[5].IsNull();
  const ser::Span<const float> audio = withAudio ? requireFloat32(info, 5, "audio") : ser::Span<const float>();
  if (cropLength == 0 || cropLength > kMaxOutputFloats) throw InputError("cropLength must be 1.." + std::to_string(kMaxOutputFloats));
  if (withAudio && audio.size() != cropLength) throw InputError("audio must hold cropLength floats");
  ser::WavHeader header;
  ser::parseWavHeader(bytes, true, header);
  const ser::WavInfo& wav = header.info;
  // The length at config.sampleRate, ceil(frames * to / from), known from the header: a clip that ends
  // before the crop starts has no row (the caller names it), and is refused before any resampling is
  // planned (a rate near 700 kHz would otherwise build a filter of millions of taps first). The ratio
  // is left unreduced: resampleRatio would refuse such a rate before the clip's length is looked at.
  const uint64_t lengthAtRate = ser::resampledLength(wav.frames, ser::ResampleRatio{config.sampleRate, wav.sampleRate});
  Napi::Object result = Napi::Object::New(env);
  result.Set("sourceSampleRate", Napi::Number::New(env, wav.sampleRate));
  result.Set("seconds", Napi::Number::New(env, static_cast<double>(wav.frames) / wav.sampleRate));
  result.Set("resampledLength", Napi::Number::New(env, static_cast<double>(lengthAtRate)));
  const bool written = lengthAtRate > cropStart;
  result.Set("written", Napi::Boolean::New(env, written));
  if (!written) return result;
  std::vector<float> decodedOwn, resampledOwn;
  const ser::Span<const float> samples = samplesAtConfigRate(bytes, header, config, decodedOwn, resampledOwn);
  if (samples.size() != lengthAtRate) throw InputError("clipRowInto: resampled length differs from the header's");
  thread_local std::vector<float> croppedScratch;
  std::vector<float> croppedOwn;
  float* cropped = scratchOrOwn(croppedScratch, croppedOwn, cropLength);
  const std::size_t kept = std::min<uint64_t>(cropLength, samples.size() - cropStart);
  std::copy(samples.data() + cropStart, samples.data() + cropStart + kept, cropped);
  std::fill(cropped + kept, cropped + cropLength, 0.0f);
  const ser::Span<const float> clip(cropped, cropLength);
  const std::size_t rows = ser::featureFrames(cropLength, config);
  const std::size_t coeffs = ser::featureCoeffs(config);
  if (features.size() != rows * coeffs) {
    throw InputError("features are " + std::to_string(rows) + "x" + std::to_string(coeffs) + ", the row holds " +
                     std::to_string(features.size()) + " floats");
  }
  ser::cachedFeatureExtractor(config).compute(clip, ser::Span<float>(const_cast<float*>(features.data()), features.size()));
  if (withAudio) std::copy(cropped, cropped + cropLength, const_cast<float*>(audio.data()));
  return result;
}

Napi::Value MelFilterbank(const Napi::CallbackInfo& info) {
  const Napi::Object o = requireObject(info, 0, "mel options");
  ser::MelConfig c;
  c.sampleRate = requireRate(o.Get("sampleRate"), "sampleRate");
  c.nFft = requireCount(o.Get("nFft"), "nFft");
  c.nMels = requireCount(o.Get("nMels"), "nMels");
  c.fminHz = requireNumber(o.Get("fmin"), "fmin");
  c.fmaxHz = requireNumber(o.Get("fmax"), "fmax");
  c.scale = parseMelScale(o.Get("melScale"));
  c.norm = parseMelNorm(o.Get("melNorm"));
  if (c.nFft < 2 || c.nFft % 2 != 0 || c.nFft > (1u << 20)) throw InputError("nFft must be an even number from 2 to 1048576");
  if (c.nMels < 1 || c.nMels > 4096) throw InputError("nMels must be 1..4096");
  if (static_cast<uint64_t>(c.nMels) * (c.nFft / 2 + 1) > ser::kMaxMelBasisFloats) {
    throw InputError("nMels x (nFft/2 + 1) must be at most " + std::to_string(ser::kMaxMelBasisFloats));
  }
  if (c.fminHz < 0 || c.fmaxHz <= c.fminHz || c.fmaxHz > c.sampleRate / 2.0) {
    throw InputError("fmin/fmax must satisfy 0 <= fmin < fmax <= sampleRate/2");
  }
  const std::vector<float> weights = ser::melFilterbank(c);
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("data", toFloat32Array(env, weights));
  result.Set("rows", Napi::Number::New(env, static_cast<double>(c.nMels)));
  result.Set("cols", Napi::Number::New(env, static_cast<double>(c.nFft / 2 + 1)));
  return result;
}

// Many frames per call: the per-call cost of N-API would otherwise dwarf a 512-point transform.
Napi::Value Rfft(const Napi::CallbackInfo& info) {
  const ser::Span<const float> input = requireFloat32(info, 0, "frames");
  const uint64_t n = requireCount(info[1], "nFft");
  if (n < 2 || n % 2 != 0 || n > (1u << 20)) throw InputError("nFft must be an even number from 2 to 1048576");
  if (input.size() % n != 0) {
    throw InputError("frames length " + std::to_string(input.size()) + " is not a multiple of nFft " + std::to_string(n));
  }
  const std::size_t rows = input.size() / n;
  const std::size_t bins = n / 2 + 1;
  Napi::Float32Array out;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    const ser::Span<const float> given = requireFloat32(info, 2, "output");
    if (given.size() != rows * bins * 2) throw InputError("output must hold rows * (nFft/2 + 1) * 2 floats");
    out = info[2].As<Napi::Float32Array>();
  } else {
    out = newFloat32Array(info.Env(), static_cast<uint64_t>(rows) * bins * 2, "the spectrum");
  }
  ser::realFftFrames(input, n, ser::Span<float>(out.Data(), out.ElementLength()));
  return out;
}

Napi::Value AddNoise(const Napi::CallbackInfo& info) {
  const ser::Span<const float> samples = requireFloat32(info, 0, "samples");
  const double snrDb = requireNumber(info[1], "snrDb");
  const uint64_t seed = requireCount(info[2], "seed");
  ser::NoiseColor color = ser::NoiseColor::White;
  if (info.Length() > 3 && !info[3].IsUndefined()) {
    const std::string name = requireString(info[3], "color");
    if (name == "pink") color = ser::NoiseColor::Pink;
    else if (name != "white") throw InputError("color must be 'white' or 'pink', got '" + name + "'");
  }
  auto out = newFloat32Array(info.Env(), samples.size(), "the noisy audio");
  ser::addNoise(samples, snrDb, seed, color, ser::Span<float>(out.Data(), out.ElementLength()));
  return out;
}

Napi::Value TimeShift(const Napi::CallbackInfo& info) {
  const ser::Span<const float> samples = requireFloat32(info, 0, "samples");
  const double shift = requireNumber(info[1], "shiftSamples");
  if (shift != std::floor(shift) || std::fabs(shift) > 9007199254740991.0) throw InputError("shiftSamples must be an integer");
  const std::string mode = requireString(info[2], "mode");
  if (mode != "roll" && mode != "zero") throw InputError("mode must be 'roll' or 'zero', got '" + mode + "'");
  auto out = newFloat32Array(info.Env(), samples.size(), "the shifted audio");
  ser::timeShift(samples, static_cast<int64_t>(shift), mode == "roll" ? ser::ShiftMode::Roll : ser::ShiftMode::Zero,
                 ser::Span<float>(out.Data(), out.ElementLength()));
  return out;
}

Napi::Value TimeStretch(const Napi::CallbackInfo& info) {
  const ser::Span<const float> samples = requireFloat32(info, 0, "samples");
  return toFloat32Array(info.Env(), ser::timeStretch(samples, requireNumber(info[1], "rate"), requireRate(info[2], "sampleRate")));
}

Napi::Value PitchShift(const Napi::CallbackInfo& info) {
  const ser::Span<const float> samples = requireFloat32(info, 0, "samples");
  return toFloat32Array(info.Env(),
                    ser::pitchShift(samples, requireNumber(info[1], "semitones"), requireRate(info[2], "sampleRate")));
}

Napi::Value ChangeSpeed(const Napi::CallbackInfo& info) {
  const ser::Span<const float> samples = requireFloat32(info, 0, "samples");
  return toFloat32Array(info.Env(), ser::changeSpeed(samples, requireNumber(info[1], "factor")));
}

// standardiseFrames(values, coeffs, mean, std): in place, frame by frame.
Napi::Value StandardiseFrames(const Napi::CallbackInfo& info) {
  const ser::Span<const float> values = requireFloat32(info, 0, "values");
  const uint64_t coeffs = requireCount(info[1], "coeffs");
  const ser::Span<const float> mean = requireFloat32(info, 2, "mean");
  const ser::Span<const float> stddev = requireFloat32(info, 3, "std");
  if (coeffs == 0) throw InputError("coeffs must be at least 1");
  if (values.size() % coeffs != 0) {
    throw InputError("values hold " + std::to_string(values.size()) + " floats, not a whole number of frames of " + std::to_string(coeffs));
  }
  if (mean.size() != coeffs || stddev.size() != coeffs) {
    throw InputError("mean and std must hold coeffs (" + std::to_string(coeffs) + ") floats, got " + std::to_string(mean.size()) + " and " +
                     std::to_string(stddev.size()));
  }
  ser::standardiseFrames(const_cast<float*>(values.data()), values.size() / coeffs, coeffs, mean.data(), stddev.data());
  return info.Env().Undefined();
}

// mixRows(values, rows, partner, own, other, out): out row r = own * row r + other * row partner[r].
Napi::Value MixRows(const Napi::CallbackInfo& info) {
  const ser::Span<const float> values = requireFloat32(info, 0, "values");
  const uint64_t rows = requireCount(info[1], "rows");
  if (info.Length() <= 2 || !info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw InputError("partner must be an Int32Array");
  }
  auto partner = info[2].As<Napi::Int32Array>();
  const double own = requireNumber(info[3], "own");
  const double other = requireNumber(info[4], "other");
  const ser::Span<float> out = requireOutputFloat32(info, 5, "out", values.size());
  if (rows == 0 || values.size() % rows != 0) {
    throw InputError("values hold " + std::to_string(values.size()) + " floats, not " + std::to_string(rows) + " rows of equal width");
  }
  if (partner.ElementLength() != rows) throw InputError("partner must name one row for each of the " + std::to_string(rows) + " rows");
  // Checked on a copy: partner may share memory with out (or another thread's), and a check of the
  // caller's array would not hold once the first row is written.
  std::vector<int32_t> partnerRows(partner.Data(), partner.Data() + rows);
  for (std::size_t r = 0; r < rows; ++r) {
    if (partnerRows[r] < 0 || static_cast<uint64_t>(partnerRows[r]) >= rows) throw InputError("partner[" + std::to_string(r) + "] is not a row");
  }
  // Taken as floats (the JavaScript passes Math.fround of its weights); a double beyond float's range
  // has no float to convert to.
  constexpr double kFloatMax = 3.4028234663852886e38;
  if (!(std::fabs(own) <= kFloatMax) || !(std::fabs(other) <= kFloatMax)) throw InputError("own and other must be finite floats");
  const float* valuesEnd = values.data() + values.size();
  const float* outEnd = out.data() + out.size();
  if (values.size() > 0 && out.data() < valuesEnd && values.data() < outEnd) throw InputError("out must not overlap values");
  ser::mixRows(values.data(), rows, values.size() / rows, partnerRows.data(), static_cast<float>(own), static_cast<float>(other), out.data());
  return info.Env().Undefined();
}

// Exceptions of the engine become JS errors in the class methods, as guarded<> does for the functions.
template <typename F>
Napi::Value guardMethod(Napi::Env env, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, "out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// What a stream knows of its input: the header's fields (null until it has arrived) and the frames read.
template <typename Stream>
Napi::Object streamInfo(Napi::Env env, const Stream& stream) {
  Napi::Object result = Napi::Object::New(env);
  const bool known = stream.headerKnown();
  const ser::WavInfo& wav = stream.header().info;
  result.Set("headerKnown", Napi::Boolean::New(env, known));
  result.Set("sampleRate", known ? Napi::Number::New(env, wav.sampleRate) : env.Null());
  result.Set("channels", known ? Napi::Number::New(env, wav.channels) : env.Null());
  result.Set("bitsPerSample", known ? Napi::Number::New(env, wav.bitsPerSample) : env.Null());
  result.Set("sourceFrames", Napi::Number::New(env, static_cast<double>(stream.sourceFrames())));
  return result;
}

// An AudioStream as a JS object: new AudioStream(targetRate); push(bytes) and finish() return the
// mono samples at the target rate that they completed.
class AudioStreamWrap : public Napi::ObjectWrap<AudioStreamWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "AudioStream", {
      InstanceMethod<&AudioStreamWrap::Push>("push"),
      InstanceMethod<&AudioStreamWrap::Finish>("finish"),
      InstanceMethod<&AudioStreamWrap::Info>("info"),
      InstanceMethod<&AudioStreamWrap::Release>("release"),
    });
  }

  explicit AudioStreamWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AudioStreamWrap>(info) {
    guardMethod(info.Env(), [&] {
      stream_ = std::make_unique<ser::AudioStream>(requireRate(info[0], "targetRate"));
      return info.Env().Undefined();
    });
  }

 private:
  Napi::Value Push(const Napi::CallbackInfo& info) {
    return guardMethod(info.Env(), [&]() -> Napi::Value {
      samples_.clear();
      live().push(requireBytes(info, 0, "wav bytes"), samples_);
      return toFloat32Array(info.Env(), samples_);
    });
  }

  Napi::Value Finish(const Napi::CallbackInfo& info) {
    return guardMethod(info.Env(), [&]() -> Napi::Value {
      samples_.clear();
      live().finish(samples_);
      return toFloat32Array(info.Env(), samples_);
    });
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    return guardMethod(info.Env(), [&]() -> Napi::Value { return streamInfo(info.Env(), live()); });
  }

  // Frees the stream's buffers now rather than whenever V8 collects this object (V8 does not see
  // native memory, so a process opening a stream per clip held every one of them).
  Napi::Value Release(const Napi::CallbackInfo& info) {
    stream_.reset();
    std::vector<float>().swap(samples_);
    return info.Env().Undefined();
  }

  ser::AudioStream& live() {
    if (!stream_) throw InputError("the AudioStream has been released");
    return *stream_;
  }

  std::unique_ptr<ser::AudioStream> stream_;
  std::vector<float> samples_;
};

// A FeatureStream as a JS object: new FeatureStream(config); push(bytes) and finish() return the
// unfloored rows they completed; finishRows(rows) floors them into features (after finish).
class FeatureStreamWrap : public Napi::ObjectWrap<FeatureStreamWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FeatureStream", {
      InstanceMethod<&FeatureStreamWrap::Push>("push"),
      InstanceMethod<&FeatureStreamWrap::Finish>("finish"),
      InstanceMethod<&FeatureStreamWrap::FinishRows>("finishRows"),
      InstanceMethod<&FeatureStreamWrap::Info>("info"),
      InstanceMethod<&FeatureStreamWrap::KeptFeatures>("keptFeatures"),
      InstanceMethod<&FeatureStreamWrap::Release>("release"),
    });
  }

  explicit FeatureStreamWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FeatureStreamWrap>(info) {
    guardMethod(info.Env(), [&] {
      stream_ = std::make_unique<ser::FeatureStream>(parseFeatureConfig(requireObject(info, 0, "config")));
      return info.Env().Undefined();
    });
  }

 private:
  Napi::Float32Array takeRows(Napi::Env env) {
    std::vector<float>& rows = live().rows();
    Napi::Float32Array out = toFloat32Array(env, rows);
    rows.clear();
    return out;
  }

  // With keepRows, the rows stay in the stream for keptFeatures() (null is returned): a caller that
  // wants the whole matrix back gets one array instead of rows, their concatenation and the floored copy.
  static bool keepsRows(const Napi::CallbackInfo& info, std::size_t index) {
    return info.Length() > index && !info[index].IsUndefined() && requireBoolean(info[index], "keepRows");
  }

  Napi::Value Push(const Napi::CallbackInfo& info) {
    return guardMethod(info.Env(), [&]() -> Napi::Value {
      const bool keep = keepsRows(info, 1);
      live().push(requireBytes(info, 0, "wav bytes"));
      return keep ? info.Env().Null() : takeRows(info.Env());
    });
  }

  Napi::Value Finish(const Napi::CallbackInfo& info) {
    return guardMethod(info.Env(), [&]() -> Napi::Value {
      const bool keep = keepsRows(info, 0);
      live().finish();
      return keep ? info.Env().Null() : takeRows(info.Env());
    });
  }

  // After finish(): the features of the rows still in the stream, floored (and through the DCT for
  // mfcc) into one new array; the rows are dropped.
  Napi::Value KeptFeatures(const Napi::CallbackInfo& info) {
    return guardMethod(info.Env(), [&]() -> Napi::Value {
      ser::FeatureStream& stream = live();
      stream.floorDb();  // throws, naming the cause, before finish()
      std::vector<float>& rows = stream.rows();
      const std::size_t frames = rows.size() / stream.unflooredWidth();
      auto out = newFloat32ArrayForWriting(info.Env(), static_cast<uint64_t>(frames) * stream.coeffs(), "the features");
      stream.finishRows(ser::Span<float>(rows), ser::Span<float>(out.Data(), out.ElementLength()));
      rows.clear();
      return out;
    });
  }

  Napi::Value FinishRows(const Napi::CallbackInfo& info) {
    return guardMethod(info.Env(), [&]() -> Napi::Value {
      const ser::Span<const float> given = requireFloat32(info, 0, "unfloored rows");
      ser::FeatureStream& stream = live();
      const std::size_t width = stream.unflooredWidth();
      if (given.size() % width != 0) throw InputError("unfloored rows must be a whole number of rows of " + std::to_string(width));
      std::vector<float> rows(given.begin(), given.end());
      auto out = newFloat32Array(info.Env(), static_cast<uint64_t>(rows.size() / width) * stream.coeffs(), "the features");
      stream.finishRows(ser::Span<float>(rows), ser::Span<float>(out.Data(), out.ElementLength()));
      return out;
    });
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    return guardMethod(info.Env(), [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      const ser::FeatureStream& stream = live();
      Napi::Object result = streamInfo(env, stream);
      result.Set("frames", Napi::Number::New(env, static_cast<double>(stream.framesDone())));
      result.Set("unflooredWidth", Napi::Number::New(env, static_cast<double>(stream.unflooredWidth())));
      result.Set("coeffs", Napi::Number::New(env, static_cast<double>(stream.coeffs())));
      return result;
    });
  }

  // Frees the stream's buffers (the decoded and resampled audio, the extractor's) now rather than
  // whenever V8 collects this object: V8 does not see native memory, and a process streaming one clip
  // after another held about 1 MB for each (1.2 GB after 600 clips of 3 s through extractFeatures).
  Napi::Value Release(const Napi::CallbackInfo& info) {
    stream_.reset();
    return info.Env().Undefined();
  }

  ser::FeatureStream& live() {
    if (!stream_) throw InputError("the FeatureStream has been released");
    return *stream_;
  }

  std::unique_ptr<ser::FeatureStream> stream_;
};

}  // namespace

void registerDspExports(Napi::Env env, Napi::Object exports) {
  exports.Set("decodeWav", Napi::Function::New<guarded<DecodeWav>>(env, "decodeWav"));
  exports.Set("encodeWav16", Napi::Function::New<guarded<EncodeWav16>>(env, "encodeWav16"));
  exports.Set("resample", Napi::Function::New<guarded<Resample>>(env, "resample"));
  exports.Set("computeFeatures", Napi::Function::New<guarded<ComputeFeatures>>(env, "computeFeatures"));
  exports.Set("clipRowInto", Napi::Function::New<guarded<ClipRowInto>>(env, "clipRowInto"));
  exports.Set("wavToFeatures", Napi::Function::New<guarded<WavToFeatures>>(env, "wavToFeatures"));
  exports.Set("wavFileToFeatures", Napi::Function::New<guarded<WavFileToFeatures>>(env, "wavFileToFeatures"));
  exports.Set("melFilterbank", Napi::Function::New<guarded<MelFilterbank>>(env, "melFilterbank"));
  exports.Set("rfft", Napi::Function::New<guarded<Rfft>>(env, "rfft"));
  exports.Set("standardiseFrames", Napi::Function::New<guarded<StandardiseFrames>>(env, "standardiseFrames"));
  exports.Set("mixRows", Napi::Function::New<guarded<MixRows>>(env, "mixRows"));
  exports.Set("FeatureStream", FeatureStreamWrap::Define(env));
  exports.Set("AudioStream", AudioStreamWrap::Define(env));
  Napi::Object limits = Napi::Object::New(env);
  limits.Set("minRate", Napi::Number::New(env, ser::kMinStretchRate));
  limits.Set("maxRate", Napi::Number::New(env, ser::kMaxStretchRate));
  limits.Set("maxSemitones", Napi::Number::New(env, ser::kMaxSemitones));
  limits.Set("minSnrDb", Napi::Number::New(env, ser::kMinSnrDb));
  limits.Set("maxSnrDb", Napi::Number::New(env, ser::kMaxSnrDb));
  limits.Freeze();
  exports.Set("augmentLimits", limits);
  Napi::Object featureLimits = Napi::Object::New(env);
  featureLimits.Set("maxSampleRate", Napi::Number::New(env, ser::kMaxSampleRate));
  featureLimits.Set("maxFftSize", Napi::Number::New(env, ser::kMaxFftSize));
  featureLimits.Set("maxFftPrimeFactor", Napi::Number::New(env, static_cast<double>(ser::kMaxFftPrimeFactor)));
  featureLimits.Set("maxMels", Napi::Number::New(env, ser::kMaxMels));
  featureLimits.Set("maxMelBasisFloats", Napi::Number::New(env, static_cast<double>(ser::kMaxMelBasisFloats)));
  featureLimits.Freeze();
  exports.Set("featureLimits", featureLimits);
  exports.Set("addNoise", Napi::Function::New<guarded<AddNoise>>(env, "addNoise"));
  exports.Set("timeShift", Napi::Function::New<guarded<TimeShift>>(env, "timeShift"));
  exports.Set("timeStretch", Napi::Function::New<guarded<TimeStretch>>(env, "timeStretch"));
  exports.Set("pitchShift", Napi::Function::New<guarded<PitchShift>>(env, "pitchShift"));
  exports.Set("changeSpeed", Napi::Function::New<guarded<ChangeSpeed>>(env, "changeSpeed"));
}

}  // namespace binding
