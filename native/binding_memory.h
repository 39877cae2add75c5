// How the module sets up the process's allocator for its results (glibc only; elsewhere both are no-ops).
#pragma once

namespace binding {

// Once, at module load: glibc keeps freed memory at the top of its heap, and the heap's growth is
// marked for transparent huge pages. Leaves glibc alone where the user has set its own options.
void tuneProcessMemory();

// Called after each result array is allocated: marks the main heap's growth since the last call for
// transparent huge pages, before anything has written to it. Cheap when the heap has not grown.
void adviseHeapGrowth();

}  // namespace binding
