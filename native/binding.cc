// The only file that speaks N-API: converts and checks JS values, calls the stage functions, and turns
// every C++ exception into a JS Error so native code never takes the process down.
#include <napi.h>

#include <cmath>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "augment.h"
#include "conv.h"
#include "elementwise.h"
#include "errors.h"
#include "features.h"
#include "fft.h"
#include "gemm.h"
#include "layout.h"
#include "mel.h"
#include "pool.h"
#include "reduce.h"
#include "resample.h"
#include "wav.h"

namespace {

using ser::InputError;

// --- argument conversion -------------------------------------------------------------------------

Napi::Object requireObject(const Napi::CallbackInfo& info, std::size_t index, const char* what) {
  if (info.Length() <= index || !info[index].IsObject()) throw InputError(std::string(what) + " must be an object");
  return info[index].As<Napi::Object>();
}

double requireNumber(const Napi::Value& value, const std::string& what) {
  if (!value.IsNumber()) throw InputError(what + " must be a number");
  const double v = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v)) throw InputError(what + " must be finite");
  return v;
}

uint64_t requireCount(const Napi::Value& value, const std::string& what) {
  const double v = requireNumber(value, what);
  if (v < 0 || v != std::floor(v) || v > 9007199254740991.0) {
    throw InputError(what + " must be a non-negative integer, got " + std::to_string(v));
  }
  return static_cast<uint64_t>(v);
}

uint32_t requireRate(const Napi::Value& value, const std::string& what) {
  const uint64_t v = requireCount(value, what);
  if (v == 0 || v > ser::kMaxSampleRate) {
    throw InputError(what + " must be 1.." + std::to_string(ser::kMaxSampleRate) + " Hz, got " + std::to_string(v));
  }
  return static_cast<uint32_t>(v);
}

std::string requireString(const Napi::Value& value, const std::string& what) {
  if (!value.IsString()) throw InputError(what + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

ser::Span<const float> requireFloat32(const Napi::CallbackInfo& info, std::size_t index, const char* what) {
  if (info.Length() <= index || !info[index].IsTypedArray() ||
      info[index].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw InputError(std::string(what) + " must be a Float32Array");
  }
  auto array = info[index].As<Napi::Float32Array>();
  return ser::Span<const float>(array.Data(), array.ElementLength());
}

ser::Span<float> requireOutputFloat32(const Napi::CallbackInfo& info, std::size_t index, const char* what,
                                      uint64_t expectedLength) {
  const ser::Span<const float> given = requireFloat32(info, index, what);
  if (given.size() != expectedLength) {
    throw InputError(std::string(what) + " must hold " + std::to_string(expectedLength) + " floats, got " +
                     std::to_string(given.size()));
  }
  return ser::Span<float>(const_cast<float*>(given.data()), given.size());
}

bool requireBoolean(const Napi::Value& value, const std::string& what) {
  if (!value.IsBoolean()) throw InputError(what + " must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

ser::Span<const uint8_t> requireBytes(const Napi::CallbackInfo& info, std::size_t index, const char* what) {
  if (info.Length() > index && info[index].IsTypedArray()) {
    auto array = info[index].As<Napi::TypedArray>();
    if (array.TypedArrayType() == napi_uint8_array) {
      auto bytes = info[index].As<Napi::Uint8Array>();
      return ser::Span<const uint8_t>(bytes.Data(), bytes.ByteLength());
    }
  }
  if (info.Length() > index && info[index].IsArrayBuffer()) {
    auto buffer = info[index].As<Napi::ArrayBuffer>();
    return ser::Span<const uint8_t>(static_cast<const uint8_t*>(buffer.Data()), buffer.ByteLength());
  }
  throw InputError(std::string(what) + " must be a Uint8Array, Buffer or ArrayBuffer");
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

// V8 aborts the process (it does not throw) when an ArrayBuffer cannot be allocated, so every output
// is checked against a cap first: 1 Gi floats (4 GiB), far above any real clip's features or audio.
constexpr uint64_t kMaxOutputFloats = uint64_t{1} << 30;

Napi::Float32Array newFloat32Array(Napi::Env env, uint64_t count, const char* what) {
  if (count > kMaxOutputFloats) {
    throw InputError(std::string(what) + " would need " + std::to_string(count) + " floats, more than the limit of " +
                     std::to_string(kMaxOutputFloats) + " (check the sample rates and sizes)");
  }
  return Napi::Float32Array::New(env, static_cast<std::size_t>(count));
}

Napi::Float32Array toFloat32Array(Napi::Env env, const std::vector<float>& values) {
  auto array = newFloat32Array(env, values.size(), "the result");
  if (!values.empty()) std::memcpy(array.Data(), values.data(), values.size() * sizeof(float));
  return array;
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
  auto out = newFloat32Array(env, static_cast<uint64_t>(frames) * coeffs, "the features");
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
  auto out = newFloat32Array(info.Env(), ser::resampledLength(samples.size(), ratio), "the resampled audio");
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

Napi::Value WavToFeatures(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ser::Span<const uint8_t> bytes = requireBytes(info, 0, "wav bytes");
  const ser::FeatureConfig config = parseFeatureConfig(requireObject(info, 1, "config"));
  const ser::DecodedWav wav = ser::decodeWav(bytes);
  std::vector<float> resampled;
  ser::Span<const float> samples(wav.samples.data(), wav.samples.size());
  if (wav.info.sampleRate != config.sampleRate) {
    const ser::ResampleRatio ratio = ser::resampleRatio(wav.info.sampleRate, config.sampleRate);
    if (ser::resampledLength(samples.size(), ratio) > kMaxOutputFloats) {
      throw InputError("resampling " + std::to_string(samples.size()) + " samples from " + std::to_string(wav.info.sampleRate) +
                       " Hz to " + std::to_string(config.sampleRate) + " Hz would exceed the size limit (is the file's rate right?)");
    }
    resampled = ser::resample(samples, wav.info.sampleRate, config.sampleRate);
    samples = ser::Span<const float>(resampled.data(), resampled.size());
  }
  std::size_t frames = 0, coeffs = 0;
  auto data = computeInto(env, samples, config, frames, coeffs);
  Napi::Object result = featureResult(env, data, frames, coeffs);
  result.Set("sourceSampleRate", Napi::Number::New(env, wav.info.sampleRate));
  result.Set("seconds", Napi::Number::New(env, static_cast<double>(wav.info.frames) / wav.info.sampleRate));
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
  // kFloatLanes rows per transform; spare lanes of the last block read zeros and write to a scratch row.
  constexpr std::size_t kLanes = ser::kFloatLanes;
  ser::RealFft<float, kLanes>& fft = ser::cachedRealFft<float, kLanes>(n);
  std::vector<float> zeros(n, 0.0f), re(bins * kLanes), im(bins * kLanes);
  const float* lanesIn[kLanes];
  float* lanesRe[kLanes];
  float* lanesIm[kLanes];
  for (std::size_t l = 0; l < kLanes; ++l) {
    lanesRe[l] = &re[l * bins];
    lanesIm[l] = &im[l * bins];
  }
  float* dst = out.Data();
  for (std::size_t first = 0; first < rows; first += kLanes) {
    for (std::size_t l = 0; l < kLanes; ++l) {
      lanesIn[l] = first + l < rows ? input.data() + (first + l) * n : zeros.data();
    }
    fft.forward(lanesIn, lanesRe, lanesIm);
    for (std::size_t l = 0; l < kLanes && first + l < rows; ++l) {
      float* row = dst + (first + l) * bins * 2;
      for (std::size_t k = 0; k < bins; ++k) {
        row[2 * k] = lanesRe[l][k];
        row[2 * k + 1] = lanesIm[l][k];
      }
    }
  }
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

// --- training kernels (the `native` tfjs backend) ----------------------------------------------------
// Outputs are allocated by the caller (as the tfjs cpu backend's data store holds them) and every
// length is checked here, so a wrong shape from JS is an exception, never a stray write.

uint64_t checkedProduct(std::initializer_list<uint64_t> factors, const char* what) {
  uint64_t product = 1;
  for (uint64_t f : factors) {
    if (f != 0 && product > kMaxOutputFloats * 4 / f) throw InputError(std::string(what) + " is too large");
    product *= f;
  }
  return product;
}

// matMul(a, b, out, batch, m, n, k, transposeA, transposeB): out[i] = op(a[i]) op(b[i]) for i < batch;
// a or b may hold one matrix, then it is shared by every batch entry.
Napi::Value MatMul(const Napi::CallbackInfo& info) {
  const ser::Span<const float> a = requireFloat32(info, 0, "a");
  const ser::Span<const float> b = requireFloat32(info, 1, "b");
  const uint64_t batch = requireCount(info[3], "batch");
  ser::GemmShape shape;
  shape.m = requireCount(info[4], "m");
  shape.n = requireCount(info[5], "n");
  shape.k = requireCount(info[6], "k");
  shape.transposeA = requireBoolean(info[7], "transposeA");
  shape.transposeB = requireBoolean(info[8], "transposeB");
  const uint64_t aSize = checkedProduct({shape.m, shape.k}, "a");
  const uint64_t bSize = checkedProduct({shape.k, shape.n}, "b");
  const uint64_t cSize = checkedProduct({shape.m, shape.n}, "out");
  const ser::Span<float> out = requireOutputFloat32(info, 2, "out", checkedProduct({batch, cSize}, "out"));
  const bool sharedA = a.size() == aSize && batch != 1;
  const bool sharedB = b.size() == bSize && batch != 1;
  if (!sharedA && a.size() != checkedProduct({batch, aSize}, "a")) {
    throw InputError("a must hold 1 or batch matrices of m x k floats, got " + std::to_string(a.size()));
  }
  if (!sharedB && b.size() != checkedProduct({batch, bSize}, "b")) {
    throw InputError("b must hold 1 or batch matrices of k x n floats, got " + std::to_string(b.size()));
  }
  for (uint64_t i = 0; i < batch; ++i) {
    ser::gemm(shape, a.data() + (sharedA ? 0 : i * aSize), b.data() + (sharedB ? 0 : i * bSize),
              out.data() + i * cSize, false);
  }
  return info.Env().Undefined();
}

ser::Conv2DGeometry parseConv2DGeometry(const Napi::Value& value) {
  if (!value.IsObject()) throw InputError("geometry must be an object");
  const Napi::Object o = value.As<Napi::Object>();
  ser::Conv2DGeometry g;
  const std::pair<const char*, std::size_t*> fields[] = {
      {"batch", &g.batch}, {"inHeight", &g.inHeight}, {"inWidth", &g.inWidth}, {"inChannels", &g.inChannels},
      {"outHeight", &g.outHeight}, {"outWidth", &g.outWidth}, {"outChannels", &g.outChannels},
      {"filterHeight", &g.filterHeight}, {"filterWidth", &g.filterWidth},
      {"strideHeight", &g.strideHeight}, {"strideWidth", &g.strideWidth},
      {"dilationHeight", &g.dilationHeight}, {"dilationWidth", &g.dilationWidth},
      {"padTop", &g.padTop}, {"padLeft", &g.padLeft}};
  for (const auto& [name, field] : fields) *field = requireCount(o.Get(name), std::string("geometry.") + name);
  ser::validateConv2DGeometry(g);
  return g;
}

void requireLength(ser::Span<const float> values, uint64_t expected, const char* what) {
  if (values.size() != expected) {
    throw InputError(std::string(what) + " must hold " + std::to_string(expected) + " floats, got " +
                     std::to_string(values.size()));
  }
}

// conv2d(x, filter, y, geometry)
Napi::Value Conv2D(const Napi::CallbackInfo& info) {
  const ser::Conv2DGeometry g = parseConv2DGeometry(info[3]);
  const ser::Span<const float> x = requireFloat32(info, 0, "x");
  const ser::Span<const float> filter = requireFloat32(info, 1, "filter");
  requireLength(x, g.inputSize(), "x");
  requireLength(filter, g.filterSize(), "filter");
  const ser::Span<float> y = requireOutputFloat32(info, 2, "y", g.outputSize());
  ser::conv2d(g, x.data(), filter.data(), y.data());
  return info.Env().Undefined();
}

// conv2dBackpropInput(dy, filter, dx, geometry)
Napi::Value Conv2DBackpropInput(const Napi::CallbackInfo& info) {
  const ser::Conv2DGeometry g = parseConv2DGeometry(info[3]);
  const ser::Span<const float> dy = requireFloat32(info, 0, "dy");
  const ser::Span<const float> filter = requireFloat32(info, 1, "filter");
  requireLength(dy, g.outputSize(), "dy");
  requireLength(filter, g.filterSize(), "filter");
  const ser::Span<float> dx = requireOutputFloat32(info, 2, "dx", g.inputSize());
  ser::conv2dBackpropInput(g, dy.data(), filter.data(), dx.data());
  return info.Env().Undefined();
}

// conv2dBackpropFilter(x, dy, dFilter, geometry)
Napi::Value Conv2DBackpropFilter(const Napi::CallbackInfo& info) {
  const ser::Conv2DGeometry g = parseConv2DGeometry(info[3]);
  const ser::Span<const float> x = requireFloat32(info, 0, "x");
  const ser::Span<const float> dy = requireFloat32(info, 1, "dy");
  requireLength(x, g.inputSize(), "x");
  requireLength(dy, g.outputSize(), "dy");
  const ser::Span<float> dFilter = requireOutputFloat32(info, 2, "dFilter", g.filterSize());
  ser::conv2dBackpropFilter(g, x.data(), dy.data(), dFilter.data());
  return info.Env().Undefined();
}

std::vector<std::size_t> requireShape(const Napi::Value& value, const char* what) {
  if (!value.IsArray()) throw InputError(std::string(what) + " must be an array of sizes");
  const Napi::Array array = value.As<Napi::Array>();
  if (array.Length() > 16) throw InputError(std::string(what) + " has more than 16 axes");
  std::vector<std::size_t> shape(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    shape[i] = requireCount(array.Get(i), std::string(what) + "[" + std::to_string(i) + "]");
  }
  return shape;
}

uint64_t shapeSize(const std::vector<std::size_t>& shape, const char* what) {
  uint64_t size = 1;
  for (std::size_t s : shape) {
    if (s != 0 && size > kMaxOutputFloats * 4 / s) throw InputError(std::string(what) + " is too large");
    size *= s;
  }
  return size;
}

ser::BinaryOp parseBinaryOp(const Napi::Value& value) {
  const std::string name = requireString(value, "op");
  if (name == "add") return ser::BinaryOp::Add;
  if (name == "sub") return ser::BinaryOp::Sub;
  if (name == "mul") return ser::BinaryOp::Mul;
  if (name == "div") return ser::BinaryOp::Div;
  if (name == "maximum") return ser::BinaryOp::Maximum;
  if (name == "minimum") return ser::BinaryOp::Minimum;
  if (name == "squaredDifference") return ser::BinaryOp::SquaredDifference;
  throw InputError("unknown binary op '" + name + "'");
}

// binaryOp(op, a, aShape, b, bShape, out)
Napi::Value BinaryOp(const Napi::CallbackInfo& info) {
  const ser::BinaryOp op = parseBinaryOp(info[0]);
  const ser::Span<const float> a = requireFloat32(info, 1, "a");
  const std::vector<std::size_t> aShape = requireShape(info[2], "aShape");
  const ser::Span<const float> b = requireFloat32(info, 3, "b");
  const std::vector<std::size_t> bShape = requireShape(info[4], "bShape");
  requireLength(a, shapeSize(aShape, "a"), "a");
  requireLength(b, shapeSize(bShape, "b"), "b");
  const ser::Span<float> out = requireOutputFloat32(info, 5, "out", shapeSize(ser::broadcastShape(aShape, bShape), "out"));
  ser::binaryBroadcast(op, a.data(), aShape, b.data(), bShape, out.data());
  return info.Env().Undefined();
}

// unaryOp(op, x, alpha, out)
Napi::Value UnaryOp(const Napi::CallbackInfo& info) {
  const std::string name = requireString(info[0], "op");
  ser::UnaryOp op;
  if (name == "relu") op = ser::UnaryOp::Relu;
  else if (name == "step") op = ser::UnaryOp::Step;
  else if (name == "floor") op = ser::UnaryOp::Floor;
  else if (name == "square") op = ser::UnaryOp::Square;
  else throw InputError("unknown unary op '" + name + "'");
  const ser::Span<const float> x = requireFloat32(info, 1, "x");
  const float alpha = static_cast<float>(requireNumber(info[2], "alpha"));
  const ser::Span<float> out = requireOutputFloat32(info, 3, "out", x.size());
  ser::unary(op, x.data(), x.size(), alpha, out.data());
  return info.Env().Undefined();
}

// reduceSum(x, shape, axes, scale, out)
Napi::Value ReduceSum(const Napi::CallbackInfo& info) {
  const ser::Span<const float> x = requireFloat32(info, 0, "x");
  const std::vector<std::size_t> shape = requireShape(info[1], "shape");
  requireLength(x, shapeSize(shape, "x"), "x");
  const std::vector<std::size_t> axes = requireShape(info[2], "axes");
  std::vector<bool> reduced(shape.size(), false);
  uint64_t kept = 1;
  for (std::size_t axis : axes) {
    if (axis >= shape.size()) throw InputError("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(shape.size()));
    reduced[axis] = true;
  }
  for (std::size_t d = 0; d < shape.size(); ++d) kept *= reduced[d] ? 1 : shape[d];
  const double scale = requireNumber(info[3], "scale");
  const ser::Span<float> out = requireOutputFloat32(info, 4, "out", kept);
  ser::reduceSum(x.data(), shape, reduced, scale, out.data());
  return info.Env().Undefined();
}

ser::Pool2DGeometry parsePool2DGeometry(const Napi::Value& value) {
  if (!value.IsObject()) throw InputError("geometry must be an object");
  const Napi::Object o = value.As<Napi::Object>();
  ser::Pool2DGeometry g;
  const std::pair<const char*, std::size_t*> fields[] = {
      {"batch", &g.batch}, {"inHeight", &g.inHeight}, {"inWidth", &g.inWidth}, {"channels", &g.channels},
      {"outHeight", &g.outHeight}, {"outWidth", &g.outWidth},
      {"filterHeight", &g.filterHeight}, {"filterWidth", &g.filterWidth},
      {"strideHeight", &g.strideHeight}, {"strideWidth", &g.strideWidth},
      {"dilationHeight", &g.dilationHeight}, {"dilationWidth", &g.dilationWidth},
      {"padTop", &g.padTop}, {"padLeft", &g.padLeft}};
  for (const auto& [name, field] : fields) *field = requireCount(o.Get(name), std::string("geometry.") + name);
  ser::validatePool2DGeometry(g);
  return g;
}

// maxPool(x, y, geometry)
Napi::Value MaxPool(const Napi::CallbackInfo& info) {
  const ser::Pool2DGeometry g = parsePool2DGeometry(info[2]);
  const ser::Span<const float> x = requireFloat32(info, 0, "x");
  requireLength(x, g.inputSize(), "x");
  const ser::Span<float> y = requireOutputFloat32(info, 1, "y", g.outputSize());
  ser::maxPool2d(g, x.data(), y.data());
  return info.Env().Undefined();
}

// maxPoolBackprop(dy, x, dx, geometry)
Napi::Value MaxPoolBackprop(const Napi::CallbackInfo& info) {
  const ser::Pool2DGeometry g = parsePool2DGeometry(info[3]);
  const ser::Span<const float> dy = requireFloat32(info, 0, "dy");
  const ser::Span<const float> x = requireFloat32(info, 1, "x");
  requireLength(dy, g.outputSize(), "dy");
  requireLength(x, g.inputSize(), "x");
  const ser::Span<float> dx = requireOutputFloat32(info, 2, "dx", g.inputSize());
  ser::maxPool2dBackprop(g, dy.data(), x.data(), dx.data());
  return info.Env().Undefined();
}

// The layout copies: (x, shape, argument, out) with the view built from shape and argument.
template <ser::StridedView (*MakeView)(const std::vector<std::size_t>&, const std::vector<std::size_t>&)>
Napi::Value LayoutCopy(const Napi::CallbackInfo& info) {
  const ser::Span<const float> x = requireFloat32(info, 0, "x");
  const std::vector<std::size_t> shape = requireShape(info[1], "shape");
  requireLength(x, shapeSize(shape, "x"), "x");
  const ser::StridedView view = MakeView(shape, requireShape(info[2], "the argument"));
  const ser::Span<float> out = requireOutputFloat32(info, 3, "out", shapeSize(view.shape, "out"));
  ser::copyView(view, x.data(), x.size(), out.data());
  return info.Env().Undefined();
}

ser::StridedView reverseAxesView(const std::vector<std::size_t>& shape, const std::vector<std::size_t>& axes) {
  std::vector<bool> reversed(shape.size(), false);
  for (std::size_t axis : axes) {
    if (axis >= shape.size()) throw InputError("reverse axis " + std::to_string(axis) + " is out of range");
    reversed[axis] = true;
  }
  return ser::reverseView(shape, reversed);
}

// slice(x, shape, begin, size, out)
Napi::Value Slice(const Napi::CallbackInfo& info) {
  const ser::Span<const float> x = requireFloat32(info, 0, "x");
  const std::vector<std::size_t> shape = requireShape(info[1], "shape");
  requireLength(x, shapeSize(shape, "x"), "x");
  const ser::StridedView view = ser::sliceView(shape, requireShape(info[2], "begin"), requireShape(info[3], "size"));
  const ser::Span<float> out = requireOutputFloat32(info, 4, "out", shapeSize(view.shape, "out"));
  ser::copyView(view, x.data(), x.size(), out.data());
  return info.Env().Undefined();
}

Napi::Value GemmIsa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), ser::gemmIsa()); }

template <Napi::Value (*Fn)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return Fn(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("decodeWav", Napi::Function::New<guarded<DecodeWav>>(env, "decodeWav"));
  exports.Set("encodeWav16", Napi::Function::New<guarded<EncodeWav16>>(env, "encodeWav16"));
  exports.Set("resample", Napi::Function::New<guarded<Resample>>(env, "resample"));
  exports.Set("computeFeatures", Napi::Function::New<guarded<ComputeFeatures>>(env, "computeFeatures"));
  exports.Set("wavToFeatures", Napi::Function::New<guarded<WavToFeatures>>(env, "wavToFeatures"));
  exports.Set("melFilterbank", Napi::Function::New<guarded<MelFilterbank>>(env, "melFilterbank"));
  exports.Set("rfft", Napi::Function::New<guarded<Rfft>>(env, "rfft"));
  Napi::Object limits = Napi::Object::New(env);
  limits.Set("minRate", Napi::Number::New(env, ser::kMinStretchRate));
  limits.Set("maxRate", Napi::Number::New(env, ser::kMaxStretchRate));
  limits.Set("maxSemitones", Napi::Number::New(env, ser::kMaxSemitones));
  limits.Set("minSnrDb", Napi::Number::New(env, ser::kMinSnrDb));
  limits.Set("maxSnrDb", Napi::Number::New(env, ser::kMaxSnrDb));
  limits.Freeze();
  exports.Set("augmentLimits", limits);
  exports.Set("addNoise", Napi::Function::New<guarded<AddNoise>>(env, "addNoise"));
  exports.Set("timeShift", Napi::Function::New<guarded<TimeShift>>(env, "timeShift"));
  exports.Set("timeStretch", Napi::Function::New<guarded<TimeStretch>>(env, "timeStretch"));
  exports.Set("pitchShift", Napi::Function::New<guarded<PitchShift>>(env, "pitchShift"));
  exports.Set("changeSpeed", Napi::Function::New<guarded<ChangeSpeed>>(env, "changeSpeed"));
  exports.Set("matMul", Napi::Function::New<guarded<MatMul>>(env, "matMul"));
  exports.Set("conv2d", Napi::Function::New<guarded<Conv2D>>(env, "conv2d"));
  exports.Set("conv2dBackpropInput", Napi::Function::New<guarded<Conv2DBackpropInput>>(env, "conv2dBackpropInput"));
  exports.Set("conv2dBackpropFilter", Napi::Function::New<guarded<Conv2DBackpropFilter>>(env, "conv2dBackpropFilter"));
  exports.Set("binaryOp", Napi::Function::New<guarded<BinaryOp>>(env, "binaryOp"));
  exports.Set("unaryOp", Napi::Function::New<guarded<UnaryOp>>(env, "unaryOp"));
  exports.Set("reduceSum", Napi::Function::New<guarded<ReduceSum>>(env, "reduceSum"));
  exports.Set("maxPool", Napi::Function::New<guarded<MaxPool>>(env, "maxPool"));
  exports.Set("maxPoolBackprop", Napi::Function::New<guarded<MaxPoolBackprop>>(env, "maxPoolBackprop"));
  exports.Set("slice", Napi::Function::New<guarded<Slice>>(env, "slice"));
  exports.Set("tile", Napi::Function::New<guarded<LayoutCopy<ser::tileView>>>(env, "tile"));
  exports.Set("reverse", Napi::Function::New<guarded<LayoutCopy<reverseAxesView>>>(env, "reverse"));
  exports.Set("transpose", Napi::Function::New<guarded<LayoutCopy<ser::transposeView>>>(env, "transpose"));
  exports.Set("gemmIsa", Napi::Function::New<guarded<GemmIsa>>(env, "gemmIsa"));
  return exports;
}

}  // namespace

NODE_API_MODULE(ser_native, Init)
