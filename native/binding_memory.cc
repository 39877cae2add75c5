// The module's process-wide memory settings (declared in binding_memory.h).
//
// Every result array (48 KB of features for a 3 s clip) is fresh memory until V8 collects the old ones,
// which it does not before some 64 MiB of them: in a fresh process each result's pages fault in one by
// one. On the virtual machines this project runs on a fault costs 10-15 us, about 90 us a clip against
// 230 us of features. Two settings cut that:
//  - glibc hands freed memory at the top of its heap back to the kernel once 128 KiB of it is free;
//    keeping up to 64 MiB (and taking blocks up to 4 MiB from the heap, where glibc's own sliding
//    threshold would also settle) took a clip from 7-11 faults to 4 and its CPU time from 420-500 us to
//    360-400 (one core, AMD EPYC, paired runs).
//  - Transparent huge pages for the main heap's growth, as glibc's own glibc.malloc.hugetlb=1 tunable
//    does (which only works when set in the environment before the process starts): the heap grows in
//    32 MiB steps and each new 2 MiB block faults in once. A fresh process's clip loop went from 9.3
//    faults a clip to 1.4 with 16 MiB steps and 0.4-0.8 with 32 (the block the heap's end was in when it
//    grew has been written already and stays in 4 KiB pages: one a step), and from 0.205 s to
//    0.140-0.166 s for 600 clips (prepare's path, which writes into one reused row: 0.134-0.141 s), on
//    AMD EPYC. Peak RSS of `ser features` on a 30-minute file stayed at 110-113 MiB (the heap's pad is
//    address space until something writes it).
// Both are process-wide, so the module defers to a user's own glibc settings (MALLOC_*_ or
// GLIBC_TUNABLES in the environment), and SER_MALLOC_DEFAULTS=1 leaves glibc as it is. Huge pages are
// only asked for where the kernel offers them on request ("madvise" or "always" in
// /sys/kernel/mm/transparent_hugepage/enabled) and keeps no strict commit limit. Where the kernel's
// defrag setting is "madvise" (the default), a fault in a marked block may wait for the kernel to
// compact memory into a free huge page; no such stall showed here (compact_stall stayed 0), and a
// server that must avoid the risk can set SER_MALLOC_DEFAULTS=1.
#include "binding_memory.h"

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>

#if defined(__GLIBC__) && defined(__linux__)
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>
#define SER_TUNE_GLIBC 1
#endif

namespace binding {

#if defined(SER_TUNE_GLIBC)
namespace {

constexpr int kTrimThresholdBytes = 64 << 20;
constexpr int kMmapThresholdBytes = 4 << 20;
// The heap grows by at least this much beyond each request, so most of each step is whole huge pages
// that nothing has touched when they are marked (a block touched first stays in 4 KiB pages).
constexpr int kTopPadBytes = 32 << 20;

// 0 while huge pages are off; otherwise the end of the part of the main heap already marked (or
// already in use when the module loaded), a multiple of the huge page size.
std::atomic<uintptr_t> markedHeapEnd{0};
uintptr_t hugePageBytes = 0;
std::mutex markMutex;
// The heap's end when the module loaded (0 where there is none).
std::atomic<uintptr_t> heapEndAtLoad{0};
// Guarded by markMutex.
bool glibcTuned = false;
unsigned long long advisedBytes = 0;
unsigned long long refusedBytes = 0;
int lastRefusalErrno = 0;

bool userSetGlibcOptions() {
  const char* keep = std::getenv("SER_MALLOC_DEFAULTS");
  if (keep != nullptr && *keep != '\0' && std::strcmp(keep, "0") != 0) return true;
  for (const char* name : {"MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

// The PMD huge page size where the kernel gives huge pages to regions that ask (0 where it does not).
uintptr_t hugePagesOnRequest() {
  std::ifstream enabled("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string setting;
  if (!std::getline(enabled, setting)) return 0;
  if (setting.find("[madvise]") == std::string::npos && setting.find("[always]") == std::string::npos) return 0;
  std::ifstream size("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");
  unsigned long long bytes = 0;
  if (!(size >> bytes) || bytes == 0 || (bytes & (bytes - 1)) != 0) return 0;
  return static_cast<uintptr_t>(bytes);
}

// The top pad makes each new thread arena's heap start with 32 MiB of writable pages too, which counts
// against the commit limit where the kernel keeps one (vm.overcommit_memory = 2): not there.
bool strictOvercommit() {
  std::ifstream mode("/proc/sys/vm/overcommit_memory");
  int value = 0;
  return (mode >> value) && value == 2;
}

uintptr_t roundDown(uintptr_t value, uintptr_t unit) { return value & ~(unit - 1); }
uintptr_t roundUp(uintptr_t value, uintptr_t unit) { return roundDown(value + unit - 1, unit); }

// The heap's end (glibc's record of the break: no system call), or 0 where there is none.
uintptr_t heapEnd() {
  void* end = sbrk(0);
  return end == reinterpret_cast<void*>(-1) ? 0 : reinterpret_cast<uintptr_t>(end);
}

}  // namespace

void tuneProcessMemory() {
  static const bool done = [] {
    heapEndAtLoad.store(heapEnd());
    if (userSetGlibcOptions()) return true;
    mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes);
    mallopt(M_TRIM_THRESHOLD, kTrimThresholdBytes);
    {
      std::lock_guard<std::mutex> lock(markMutex);
      glibcTuned = true;
    }
    const uintptr_t end = heapEnd();
    hugePageBytes = hugePagesOnRequest();
    if (hugePageBytes == 0 || end == 0 || strictOvercommit()) return true;
    mallopt(M_TOP_PAD, kTopPadBytes);
    // The block holding the current end of the heap may be in use already: marking starts after it.
    markedHeapEnd.store(roundUp(end, hugePageBytes));
    return true;
  }();
  (void)done;
}

void adviseHeapGrowth() {
  const uintptr_t marked = markedHeapEnd.load(std::memory_order_relaxed);
  if (marked == 0) return;
  const uintptr_t end = heapEnd();
  if (end == 0) return;
  const uintptr_t wholeBlocksEnd = roundDown(end, hugePageBytes);
  const bool shrank = roundUp(end, hugePageBytes) < marked;
  if (!shrank && wholeBlocksEnd <= marked) return;
  std::lock_guard<std::mutex> lock(markMutex);
  const uintptr_t from = markedHeapEnd.load();
  if (roundUp(end, hugePageBytes) < from) {
    // glibc gave the top of the heap back (more than the trim threshold was free): what grows there
    // again is a new mapping without the advice, so marking resumes from the new end.
    markedHeapEnd.store(roundUp(end, hugePageBytes));
    return;
  }
  if (wholeBlocksEnd <= from) return;
  // [from, wholeBlocksEnd) lies between the heap's end when the module loaded and its end now: heap
  // only. Advice only: it changes no contents, and a failure leaves the pages as they were.
  const uintptr_t bytes = wholeBlocksEnd - from;
  if (madvise(reinterpret_cast<void*>(from), bytes, MADV_HUGEPAGE) == 0) {
    advisedBytes += bytes;
  } else {
    refusedBytes += bytes;
    lastRefusalErrno = errno;
  }
  markedHeapEnd.store(wholeBlocksEnd);
}

HeapAdviceRecord heapAdviceRecord() {
  // Growth since the last result is advised first, so the record covers the heap as it is now.
  adviseHeapGrowth();
  std::lock_guard<std::mutex> lock(markMutex);
  HeapAdviceRecord record;
  const uintptr_t atLoad = heapEndAtLoad.load();
  const uintptr_t now = heapEnd();
  record.heapGrowthBytes = atLoad != 0 && now > atLoad ? now - atLoad : 0;
  record.glibcTuned = glibcTuned;
  record.hugePageBytes = markedHeapEnd.load() == 0 ? 0 : hugePageBytes;
  record.advisedBytes = advisedBytes;
  record.refusedBytes = refusedBytes;
  record.lastRefusalErrno = lastRefusalErrno;
  return record;
}

#else

void tuneProcessMemory() {}
void adviseHeapGrowth() {}
HeapAdviceRecord heapAdviceRecord() { return {}; }

#endif

}  // namespace binding
