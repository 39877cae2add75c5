#include "nn/threadpool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "common/errors.h"

namespace ser {
namespace {

constexpr std::size_t kMaxThreads = 256;

// A training step runs dozens of parallel loops back to back: a worker (or the caller waiting for the
// workers) checks for the next one for this long before it sleeps on the condition variable, so that
// each loop does not pay a futex wake-up.
constexpr auto kSpin = std::chrono::microseconds(50);

template <typename Ready>
void spinUntil(Ready ready) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  while (!ready()) {
    for (int i = 0; i < 32; ++i) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    if (std::chrono::steady_clock::now() >= until) return;
  }
}

class ThreadPool {
 public:
  ~ThreadPool() { resize(1); }

  void resize(std::size_t threads) {
    std::lock_guard<std::mutex> busy(busy_);
    stopWorkers();
    stopping_ = false;
    for (std::size_t i = 1; i < threads; ++i) workers_.emplace_back([this] { workerLoop(); });
    threads_ = threads;
  }

  std::size_t size() const { return threads_; }

  void run(std::size_t tasks, const std::function<void(std::size_t)>& task) {
    if (tasks == 0) return;
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock() || workers_.empty() || tasks == 1) {
      for (std::size_t i = 0; i < tasks; ++i) task(i);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &task;
      tasks_ = tasks;
      next_.store(0);
      error_ = nullptr;
      working_ = workers_.size();
      ++generation_;
    }
    wake_.notify_all();
    drain();
    spinUntil([this] { return working_.load(std::memory_order_acquire) == 0; });
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return working_ == 0; });
    task_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void drain() {
    for (std::size_t i = next_.fetch_add(1); i < tasks_; i = next_.fetch_add(1)) {
      try {
        (*task_)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
  }

  void workerLoop() {
    std::size_t seen = 0;
    for (;;) {
      spinUntil([&] { return stopping_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen; });
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
      }
      drain();
      std::lock_guard<std::mutex> lock(mutex_);
      if (--working_ == 0) done_.notify_one();
    }
  }

  void stopWorkers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
    workers_.clear();
  }

  std::mutex busy_;  // held by the one run() that owns the workers
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  std::size_t threads_ = 1;
  // Written under mutex_; atomic so that spinning threads may read them without it.
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> generation_{0};
  const std::function<void(std::size_t)>* task_ = nullptr;
  std::size_t tasks_ = 0;
  std::atomic<std::size_t> next_{0};
  std::atomic<std::size_t> working_{0};
  std::exception_ptr error_;
};

ThreadPool& pool() {
  static ThreadPool instance;
  return instance;
}

}  // namespace

void setThreadCount(std::size_t threads) {
  if (threads < 1 || threads > kMaxThreads) {
    throw InputError("thread count must be 1.." + std::to_string(kMaxThreads) + ", got " + std::to_string(threads));
  }
  if (threads != pool().size()) pool().resize(threads);
}

std::size_t threadCount() { return pool().size(); }

void parallelFor(std::size_t tasks, const std::function<void(std::size_t)>& task) { pool().run(tasks, task); }

Range splitRange(std::size_t count, std::size_t parts, std::size_t part) {
  const std::size_t base = count / parts, extra = count % parts;
  const std::size_t begin = part * base + std::min(part, extra);
  return {begin, begin + base + (part < extra ? 1 : 0)};
}

}  // namespace ser
