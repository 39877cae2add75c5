// Argument conversion shared by the binding files: checks JS values and turns them into spans and
// numbers (throwing InputError with a message for the user), allocates outputs, and wraps every export
// so a C++ exception becomes a JS Error.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "common/errors.h"
#include "common/span.h"

namespace binding {

using ser::InputError;

Napi::Object requireObject(const Napi::CallbackInfo& info, std::size_t index, const char* what);
double requireNumber(const Napi::Value& value, const std::string& what);
uint64_t requireCount(const Napi::Value& value, const std::string& what);
std::string requireString(const Napi::Value& value, const std::string& what);
ser::Span<const float> requireFloat32(const Napi::CallbackInfo& info, std::size_t index, const char* what);
ser::Span<float> requireOutputFloat32(const Napi::CallbackInfo& info, std::size_t index, const char* what,
                                      uint64_t expectedLength);
bool requireBoolean(const Napi::Value& value, const std::string& what);
ser::Span<const uint8_t> requireBytes(const Napi::CallbackInfo& info, std::size_t index, const char* what);

// V8 aborts the process (it does not throw) when an ArrayBuffer cannot be allocated, so every output
// is checked against a cap first: 1 Gi floats (4 GiB), far above any real clip's features or audio.
constexpr uint64_t kMaxOutputFloats = uint64_t{1} << 30;

Napi::Float32Array newFloat32Array(Napi::Env env, uint64_t count, const char* what);
// The same without the zero fill, for callers that write every value before returning it.
Napi::Float32Array newFloat32ArrayForWriting(Napi::Env env, uint64_t count, const char* what);
Napi::Float32Array toFloat32Array(Napi::Env env, const std::vector<float>& values);

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

// The exports of each engine, added to the module's exports object by Init (binding.cc).
void registerDspExports(Napi::Env env, Napi::Object exports);
void registerNnExports(Napi::Env env, Napi::Object exports);
void registerTrainerExports(Napi::Env env, Napi::Object exports);

}  // namespace binding
