// How the module sets up the process's allocator for its results (glibc only; elsewhere both are no-ops).
#pragma once

namespace binding {

// Once, at module load: glibc keeps freed memory at the top of its heap, and the heap's growth is
// marked for transparent huge pages. Leaves glibc alone where the user has set its own options.
void tuneProcessMemory();

// Called after each result array is allocated: marks the main heap's growth since the last call for
// transparent huge pages, before anything has written to it. Cheap when the heap has not grown.
void adviseHeapGrowth();

// What the settings came to in this process, for tests and diagnostics (any growth not yet advised is
// advised first): whether glibc's options were set, how far the main heap has grown since the module
// loaded, the huge page size its growth is marked with (0 where it is not), and how much of it the
// kernel took the advice for, or refused it for (with the last refusal's errno).
struct HeapAdviceRecord {
  bool glibcTuned = false;
  unsigned long long heapGrowthBytes = 0;
  unsigned long long hugePageBytes = 0;
  unsigned long long advisedBytes = 0;
  unsigned long long refusedBytes = 0;
  int lastRefusalErrno = 0;
};
HeapAdviceRecord heapAdviceRecord();

}  // namespace binding
