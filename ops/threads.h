// ops/threads.h — the one thread pool the kernels share.
//
// Only ops/ uses threads. A kernel splits its output into tasks that never write the same element, and
// every element is computed by one thread in a fixed order, so results do not depend on the thread count.
// Workers sleep on a condition variable between calls; the calling thread works too.
#ifndef GEMMA4_OPS_THREADS_H_
#define GEMMA4_OPS_THREADS_H_

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gemma4::ops {

class ThreadPool {
 public:
  explicit ThreadPool(size_t num_threads) { Start(num_threads); }
  ~ThreadPool() { Stop(); }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t NumThreads() const { return workers_.size() + 1; }

  void Resize(size_t num_threads) {
    if (num_threads == NumThreads()) return;
    Stop();
    Start(num_threads);
  }

  // Calls fn(task) once for every task in [0, num_tasks) and returns when all have finished.
  // Trap: the pool holds one job at a time. Two threads calling Run at once (two Sessions on one model,
  // each in its own thread) once overwrote each other's job and got wrong tokens; now a caller that finds
  // the pool busy runs its tasks itself, on its own thread. Tasks never depend on which thread runs them,
  // so the results are the same either way.
  void Run(size_t num_tasks, const std::function<void(size_t)>& fn) {
    if (num_tasks == 0) return;
    std::unique_lock<std::mutex> caller(caller_mutex_, std::try_to_lock);
    if (num_tasks == 1 || workers_.empty() || !caller.owns_lock()) {
      for (size_t i = 0; i < num_tasks; ++i) fn(i);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = &fn;
      num_tasks_ = num_tasks;
      next_task_.store(0);
      busy_workers_ = workers_.size();
      ++generation_;
    }
    wake_.notify_all();
    Work();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return busy_workers_ == 0; });
    fn_ = nullptr;
  }

 private:
  void Start(size_t num_threads) {
    stop_ = false;
    const size_t extra = num_threads > 1 ? num_threads - 1 : 0;
    const size_t generation = generation_;  // new workers wait for the next Run, not the last Stop
    for (size_t i = 0; i < extra; ++i) workers_.emplace_back([this, generation] { WorkerLoop(generation); });
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      ++generation_;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
  }

  void Work() {
    for (;;) {
      const size_t task = next_task_.fetch_add(1);
      if (task >= num_tasks_) return;
      (*fn_)(task);
    }
  }

  void WorkerLoop(size_t seen) {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (stop_) return;
      }
      Work();
      std::lock_guard<std::mutex> lock(mutex_);
      if (--busy_workers_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex caller_mutex_;  // held by the one caller whose job the workers run
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(size_t)>* fn_ = nullptr;
  size_t num_tasks_ = 0;
  std::atomic<size_t> next_task_{0};
  size_t busy_workers_ = 0;
  size_t generation_ = 0;
  bool stop_ = false;
};

inline size_t DefaultNumThreads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

// The process-wide pool used by every kernel. SetNumThreads(n) resizes it (the tools' -t flag).
inline ThreadPool& Pool() {
  static ThreadPool pool(DefaultNumThreads());
  return pool;
}
inline void SetNumThreads(size_t n) { Pool().Resize(std::max<size_t>(1, n)); }

// Splits [0, n) into at most NumThreads()*4 contiguous ranges of at least `grain` items, multiples of
// `align`, and runs fn(begin, end) on each. Small problems run inline on the caller.
inline void ParallelRanges(size_t n, size_t grain, size_t align,
                           const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  grain = std::max<size_t>(grain, 1);
  align = std::max<size_t>(align, 1);
  const size_t max_tasks = Pool().NumThreads() * 4;
  size_t chunk = std::max(grain, (n + max_tasks - 1) / max_tasks);
  chunk = (chunk + align - 1) / align * align;
  const size_t tasks = (n + chunk - 1) / chunk;
  if (tasks <= 1) {
    fn(0, n);
    return;
  }
  Pool().Run(tasks, [&](size_t task) {
    const size_t begin = task * chunk;
    fn(begin, std::min(n, begin + chunk));
  });
}

}  // namespace gemma4::ops

#endif  // GEMMA4_OPS_THREADS_H_
