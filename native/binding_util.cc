// Argument conversion shared by the binding files (declared in binding_util.h).
#include "binding_util.h"

#include "binding_memory.h"

#include <cmath>
#include <cstring>
#include <string>

namespace binding {

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

Napi::Float32Array newFloat32Array(Napi::Env env, uint64_t count, const char* what) {
  if (count > kMaxOutputFloats) {
    throw InputError(std::string(what) + " would need " + std::to_string(count) + " floats, more than the limit of " +
                     std::to_string(kMaxOutputFloats) + " (check the sample rates and sizes)");
  }
  auto array = Napi::Float32Array::New(env, static_cast<std::size_t>(count));
  adviseHeapGrowth();
  return array;
}

Napi::Float32Array newFloat32ArrayForWriting(Napi::Env env, uint64_t count, const char* what) {
  if (count > kMaxOutputFloats) {
    throw InputError(std::string(what) + " would need " + std::to_string(count) + " floats, more than the limit of " +
                     std::to_string(kMaxOutputFloats) + " (check the sample rates and sizes)");
  }
  // napi_create_buffer leaves its memory as it comes (Buffer.allocUnsafe's allocation, never pooled at
  // the C++ level): the zero fill of napi_create_arraybuffer was 8% of a clip's features, and the
  // caller overwrites every value anyway.
  const std::size_t bytes = static_cast<std::size_t>(count) * sizeof(float);
  auto buffer = Napi::Buffer<uint8_t>::New(env, bytes);
  adviseHeapGrowth();  // before anything writes the result
  return Napi::Float32Array::New(env, static_cast<std::size_t>(count), buffer.ArrayBuffer(), buffer.ByteOffset());
}

Napi::Float32Array toFloat32Array(Napi::Env env, const std::vector<float>& values) {
  auto array = newFloat32ArrayForWriting(env, values.size(), "the result");
  if (!values.empty()) std::memcpy(array.Data(), values.data(), values.size() * sizeof(float));
  return array;
}

}  // namespace binding
