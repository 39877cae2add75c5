// The training engine's one thread pool. Kernels split their work into independent tasks (batch rows,
// output tiles, directions of a recurrent layer); which thread runs a task never changes its result,
// so a run repeats bit for bit at any thread count wherever a kernel keeps its task split fixed.
#pragma once
#include <cstddef>
#include <functional>

namespace ser {

// Threads the kernels may use, the calling thread included (1 = everything on the caller).
void setThreadCount(std::size_t threads);
std::size_t threadCount();

// Runs task(i) for every i in [0, tasks) and returns when all are done; the caller takes part. A call
// made while the pool is busy (from a task, or from a second JS thread) runs its tasks on the caller
// alone. The first exception a task throws is rethrown here after the others finish.
void parallelFor(std::size_t tasks, const std::function<void(std::size_t)>& task);

// Splits [0, count) into `parts` contiguous ranges that depend only on count and parts.
struct Range {
  std::size_t begin = 0, end = 0;
};
Range splitRange(std::size_t count, std::size_t parts, std::size_t part);

}  // namespace ser
