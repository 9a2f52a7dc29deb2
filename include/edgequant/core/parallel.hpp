// Fixed-size thread pool and parallel_for over index ranges. Work is split into
// contiguous chunks; callers keep results independent of the thread count by
// making each index's output depend only on that index.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace edgequant {

class ThreadPool {
 public:
  // `threads` counts the calling thread: a pool of 1 runs everything inline.
  explicit ThreadPool(unsigned threads = 0) {
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    size_ = threads;
    workers_.reserve(threads - 1);
    for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  unsigned size() const noexcept { return size_; }

  // Calls fn(chunk_begin, chunk_end) over [begin, end) split into contiguous
  // chunks of at least `grain` indices, on up to size() threads, and waits.
  // Re-entrant calls from inside fn run inline. The first exception thrown by
  // fn is rethrown here after all chunks finished.
  template <class F>
  void parallel_for(std::size_t begin, std::size_t end, std::size_t grain, F&& fn) {
    if (end <= begin) return;
    const std::size_t n = end - begin;
    grain = std::max<std::size_t>(grain, 1);
    std::size_t chunks = std::min<std::size_t>(size_, (n + grain - 1) / grain);
    if (chunks <= 1 || workers_.empty() || in_worker()) {
      fn(begin, end);
      return;
    }
    // Give each thread a few chunks so uneven rows balance out.
    chunks = std::min<std::size_t>(n / grain > 0 ? n / grain : 1, chunks * 4);
    std::lock_guard<std::mutex> submit(submit_mu_);
    Job job;
    job.begin = begin;
    job.n = n;
    job.chunks = chunks;
    job.fn = [&fn](std::size_t b, std::size_t e) { fn(b, e); };
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = &job;
      ++generation_;
    }
    cv_.notify_all();
    run_chunks(job);
    {
      std::unique_lock<std::mutex> lk(mu_);
      done_cv_.wait(lk, [&] { return job.finished.load() == job.chunks && active_ == 0; });
      job_ = nullptr;
    }
    if (job.error) std::rethrow_exception(job.error);
  }

 private:
  struct Job {
    std::size_t begin = 0, n = 0, chunks = 0;
    std::function<void(std::size_t, std::size_t)> fn;
    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> finished{0};
    std::exception_ptr error;
    std::mutex error_mu;
  };

  static bool& in_worker() {
    thread_local bool flag = false;
    return flag;
  }

  void run_chunks(Job& job) {
    const bool was = in_worker();
    in_worker() = true;
    for (;;) {
      const std::size_t c = job.next.fetch_add(1);
      if (c >= job.chunks) break;
      const std::size_t b = job.begin + job.n * c / job.chunks;
      const std::size_t e = job.begin + job.n * (c + 1) / job.chunks;
      try {
        job.fn(b, e);
      } catch (...) {
        std::lock_guard<std::mutex> lk(job.error_mu);
        if (!job.error) job.error = std::current_exception();
      }
      job.finished.fetch_add(1);
    }
    in_worker() = was;
  }

  void worker_loop() {
    std::uint64_t seen = 0;
    for (;;) {
      Job* job = nullptr;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || (job_ != nullptr && generation_ != seen); });
        if (stop_) return;
        seen = generation_;
        job = job_;
        ++active_;
      }
      run_chunks(*job);
      {
        std::lock_guard<std::mutex> lk(mu_);
        --active_;
      }
      done_cv_.notify_all();
    }
  }

  unsigned size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex submit_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable done_cv_;
  Job* job_ = nullptr;
  std::uint64_t generation_ = 0;
  unsigned active_ = 0;
  bool stop_ = false;
};

namespace detail {
// One pool per requested size, created on first use and kept for the process.
inline ThreadPool& pool_for(unsigned threads) {
  static std::mutex mu;
  static std::vector<std::unique_ptr<ThreadPool>> pools;
  std::lock_guard<std::mutex> lk(mu);
  for (auto& p : pools) {
    if (p->size() == threads) return *p;
  }
  pools.push_back(std::make_unique<ThreadPool>(threads));
  return *pools.back();
}
}  // namespace detail

// Number of threads meant by `threads` (0 = all hardware threads).
inline unsigned resolve_threads(unsigned threads) noexcept {
  return threads ? threads : std::max(1u, std::thread::hardware_concurrency());
}

// Runs fn(chunk_begin, chunk_end) over [begin, end) on `threads` threads
// (0 = all hardware threads), using a process-wide pool per thread count.
template <class F>
void parallel_for(std::size_t begin, std::size_t end, std::size_t grain, unsigned threads,
                  F&& fn) {
  threads = resolve_threads(threads);
  if (end <= begin) return;
  if (threads == 1 || end - begin <= grain) {
    fn(begin, end);
    return;
  }
  detail::pool_for(threads).parallel_for(begin, end, grain, std::forward<F>(fn));
}

}  // namespace edgequant
