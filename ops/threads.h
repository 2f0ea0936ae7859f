// ops/threads.h — the one thread pool the kernels share.
//
// Only ops/ uses threads. A kernel splits its output into tasks that never write the same element, and
// every element is computed by one thread in a fixed order, so results do not depend on the thread count.
// The calling thread works too. Between calls workers spin a bounded time, then sleep (see ThreadPool).
#ifndef GEMMA4_OPS_THREADS_H_
#define GEMMA4_OPS_THREADS_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#include <immintrin.h>  // _mm_pause
#endif

namespace gemma4::ops {

// One short wait of a spinning thread: the CPU's spin-wait hint where there is one (x86 `pause`, Arm
// `yield`), which frees the core's shared resources for its sibling and costs no system call.
inline void SpinPause() {
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#else
  std::this_thread::yield();
#endif
}

// Spins until done() or until `budget` has passed; returns done(). The backoff: the first few µs only
// pause (a hand-over that comes within them costs no system call), then each round of 32 pauses also
// yields the CPU, so on an oversubscribed machine a thread that is waiting lets a runnable one have the
// core (where none is, yield returns at once). The clock is read every round, so the bound holds on any
// CPU, whatever its pause costs.
template <class Done>
inline bool SpinUntil(const Done& done, std::chrono::microseconds budget) {
  const auto start = std::chrono::steady_clock::now();
  const auto yield_from = start + std::chrono::microseconds(5), deadline = start + budget;
  for (;;) {
    for (int i = 0; i < 32; ++i) {
      if (done()) return true;
      SpinPause();
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return done();
    if (now >= yield_from) std::this_thread::yield();
  }
}

class ThreadPool {
 public:
  // How long a worker waiting for the next job, and a caller waiting for its tasks to finish, spin before
  // they sleep on a condition variable. A decoded token runs some 400 jobs with a few µs to a few tens of
  // µs of serial work between them; sleeping and waking through the kernel (futex) for each cost ~5% of
  // decode. Bounded, not endless: on a machine with more runnable threads than cores an endless spinner
  // holds a core other work needs (llama.cpp's spinning threads fell to 0.5 tok/s so here).
  // Measured on 2 shared cores (ops/README.md "Threads").
  static constexpr std::chrono::microseconds kSpin{50};

  explicit ThreadPool(size_t num_threads) { Start(num_threads); }
  ~ThreadPool() { Stop(); }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t NumThreads() const { return workers_.size() + 1; }

  // Waits for a job in flight, then restarts the workers (the tools resize before they start).
  void Resize(size_t num_threads) {
    if (num_threads == NumThreads()) return;
    std::lock_guard<std::mutex> caller(caller_mutex_);
    Stop();
    Start(num_threads);
  }

  // Calls fn(task) once for every task in [0, num_tasks) and returns when all have finished.
  // Trap: the pool holds one job at a time. Two threads calling Run at once (two Sessions on one model,
  // each in its own thread) once overwrote each other's job and got wrong tokens; now a caller that finds
  // the pool busy runs its tasks itself, on its own thread. Tasks never depend on which thread runs them,
  // so the results are the same either way.
  //
  // The hand-over, lock-free while all goes well. The caller publishes the job (fn, num_tasks, the task
  // counters), opens it (`open_job_` = its number) and bumps `generation_`; workers spinning on
  // `generation_` join, take tasks from `next_task_` and count them in `done_tasks_`; the caller takes
  // tasks too, then spins until `done_tasks_` = num_tasks. It never waits for a worker that took no task:
  // on an oversubscribed machine a worker may be descheduled for milliseconds, and the caller then simply
  // runs every task itself. Trap: a late worker must not read the job while the caller writes the next
  // one. So a worker announces itself (`active_workers_`) before it checks that its job is still open, and
  // the caller closes the job and waits for `active_workers_` = 0 before it returns (a few instructions
  // for a worker that found its job closed). Each side writes its own atomic and then reads the other's
  // (sequentially consistent), so at least one sees the other. The same pattern guards sleeping: a thread
  // that spun kSpin in vain says so (`sleeping_workers_`, `caller_sleeping_`) before it checks once more
  // and waits, and the other side takes the mutex and notifies only when it sees that.
  void Run(size_t num_tasks, const std::function<void(size_t)>& fn) {
    if (num_tasks == 0) return;
    std::unique_lock<std::mutex> caller(caller_mutex_, std::try_to_lock);
    if (num_tasks == 1 || workers_.empty() || !caller.owns_lock()) {
      for (size_t i = 0; i < num_tasks; ++i) fn(i);
      return;
    }
    fn_.store(&fn, std::memory_order_relaxed);
    num_tasks_.store(num_tasks, std::memory_order_relaxed);
    next_task_.store(0, std::memory_order_relaxed);
    done_tasks_.store(0, std::memory_order_relaxed);
    const size_t job = generation_.load(std::memory_order_relaxed) + 1;
    open_job_.store(job);     // seq_cst: publishes the fields above to a worker that sees it open
    generation_.store(job);
    if (sleeping_workers_.load() > 0) {
      { std::lock_guard<std::mutex> lock(mutex_); }  // a worker between its last check and its wait holds it
      wake_.notify_all();
    }
    Work();
    const auto all_done = [&] { return done_tasks_.load() == num_tasks; };
    if (!SpinUntil(all_done, kSpin)) {
      std::unique_lock<std::mutex> lock(mutex_);
      caller_sleeping_.store(true);
      done_.wait(lock, all_done);
      caller_sleeping_.store(false);
    }
    open_job_.store(0);
    while (active_workers_.load() != 0) std::this_thread::yield();  // workers leaving; never a task
    fn_.store(nullptr, std::memory_order_relaxed);
  }

 private:
  void Start(size_t num_threads) {
    stop_.store(false);
    const size_t extra = num_threads > 1 ? num_threads - 1 : 0;
    const size_t generation = generation_.load();  // new workers wait for the next Run, not the last Stop
    for (size_t i = 0; i < extra; ++i) workers_.emplace_back([this, generation] { WorkerLoop(generation); });
  }

  void Stop() {
    stop_.store(true);
    generation_.fetch_add(1);
    { std::lock_guard<std::mutex> lock(mutex_); }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
  }

  // Takes tasks until there are none left, and counts the ones it ran.
  void Work() {
    const std::function<void(size_t)>& fn = *fn_.load(std::memory_order_relaxed);
    const size_t num_tasks = num_tasks_.load(std::memory_order_relaxed);
    for (;;) {
      const size_t task = next_task_.fetch_add(1);
      if (task >= num_tasks) return;
      fn(task);
      if (done_tasks_.fetch_add(1) + 1 == num_tasks && caller_sleeping_.load()) {
        { std::lock_guard<std::mutex> lock(mutex_); }  // the caller between its last check and its wait holds it
        done_.notify_one();
      }
    }
  }

  void WorkerLoop(size_t seen) {
    for (;;) {
      const auto new_job = [&] { return generation_.load() != seen; };
      if (!SpinUntil(new_job, kSpin)) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleeping_workers_.fetch_add(1);
        wake_.wait(lock, new_job);
        sleeping_workers_.fetch_sub(1);
      }
      if (stop_.load()) return;
      seen = generation_.load();
      active_workers_.fetch_add(1);
      if (open_job_.load() == seen) Work();  // else: finished (or replaced) before this worker got here
      active_workers_.fetch_sub(1);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex caller_mutex_;  // held by the one caller whose job the workers run
  std::mutex mutex_;         // only for sleeping and waking
  std::condition_variable wake_, done_;
  // Everything below is read and written outside mutex_, so all of it is atomic.
  std::atomic<const std::function<void(size_t)>*> fn_{nullptr};
  std::atomic<size_t> num_tasks_{0};
  std::atomic<size_t> next_task_{0};
  std::atomic<size_t> done_tasks_{0};
  std::atomic<size_t> generation_{0};  // the number of the last job (Stop bumps it too)
  std::atomic<size_t> open_job_{0};    // the job workers may join; 0: none
  std::atomic<size_t> active_workers_{0};
  std::atomic<size_t> sleeping_workers_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> stop_{false};
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
