// The module: N-API speaks only in the binding files (binding_dsp.cc, binding_nn.cc, binding_util.*), which
// convert and check JS values, call the engines, and turn every C++ exception into a JS Error so native
// code never takes the process down.
#include <napi.h>

#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "binding_util.h"

namespace {

// glibc hands freed memory at the top of its heap back to the kernel once 128 KiB of it is free. Every
// feature matrix (48 KB for a 3 s clip) lives in such memory until V8 collects it, so a clip loop got
// fresh pages, each a page fault, for every result. Keeping up to 64 MiB at the top (and taking blocks
// up to 4 MiB from the heap, where glibc's own sliding threshold would also settle) took a 3 s clip from
// 7-11 faults to 4 and its CPU time from 420-500 us to 360-400 (one core, AMD EPYC, paired runs).
// Process-wide, so it defers to a user's own glibc settings, and SER_MALLOC_DEFAULTS=1 leaves glibc as
// it is.
void tuneMalloc() {
#if defined(__GLIBC__)
  static const bool done = [] {
    const char* keep = std::getenv("SER_MALLOC_DEFAULTS");
    if (keep != nullptr && *keep != '\0' && std::strcmp(keep, "0") != 0) return true;
    for (const char* name : {"MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES"}) {
      if (std::getenv(name) != nullptr) return true;
    }
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    return true;
  }();
  (void)done;
#endif
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tuneMalloc();
  binding::registerDspExports(env, exports);
  binding::registerNnExports(env, exports);
  binding::registerTrainerExports(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(ser_native, Init)
