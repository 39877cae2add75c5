// The module: N-API speaks only in the binding files (binding_dsp.cc, binding_nn.cc, binding_util.*), which
// convert and check JS values, call the engines, and turn every C++ exception into a JS Error so native
// code never takes the process down.
#include <napi.h>

#include "binding_memory.h"
#include "binding_util.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  binding::tuneProcessMemory();
  binding::registerDspExports(env, exports);
  binding::registerNnExports(env, exports);
  binding::registerTrainerExports(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(ser_native, Init)
