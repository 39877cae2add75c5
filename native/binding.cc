// The module: N-API speaks only in the binding files (binding_dsp.cc, binding_nn.cc, binding_util.*), which
// convert and check JS values, call the engines, and turn every C++ exception into a JS Error so native
// code never takes the process down.
#include <napi.h>

#include "binding_memory.h"
#include "binding_util.h"

namespace {

Napi::Value HeapAdvice(const Napi::CallbackInfo& info) {
  const binding::HeapAdviceRecord record = binding::heapAdviceRecord();
  auto result = Napi::Object::New(info.Env());
  result.Set("glibcTuned", record.glibcTuned);
  result.Set("heapGrowthBytes", static_cast<double>(record.heapGrowthBytes));
  result.Set("hugePageBytes", static_cast<double>(record.hugePageBytes));
  result.Set("advisedBytes", static_cast<double>(record.advisedBytes));
  result.Set("refusedBytes", static_cast<double>(record.refusedBytes));
  result.Set("lastRefusalErrno", record.lastRefusalErrno);
  return result;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  binding::tuneProcessMemory();
  binding::registerDspExports(env, exports);
  binding::registerNnExports(env, exports);
  binding::registerTrainerExports(env, exports);
  exports.Set("heapAdvice", Napi::Function::New(env, HeapAdvice, "heapAdvice"));
  return exports;
}

}  // namespace

NODE_API_MODULE(ser_native, Init)
