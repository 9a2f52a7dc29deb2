// parallel_for: every index exactly once, for any thread count and grain.
#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "edgequant/core/parallel.hpp"

using namespace edgequant;

TEST_CASE("parallel_for covers the range exactly once for any thread count") {
  for (unsigned threads : {1u, 2u, 3u, 8u}) {
    for (std::size_t n : {0u, 1u, 7u, 1000u}) {
      for (std::size_t grain : {1u, 3u, 64u}) {
        std::vector<std::atomic<int>> hits(n);
        parallel_for(0, n, grain, threads, [&](std::size_t b, std::size_t e) {
          CHECK(b < e);
          for (std::size_t i = b; i < e; ++i) hits[i].fetch_add(1);
        });
        for (std::size_t i = 0; i < n; ++i) REQUIRE(hits[i].load() == 1);
      }
    }
  }
}

TEST_CASE("ThreadPool runs nested calls inline and rethrows exceptions") {
  ThreadPool pool(3);
  std::atomic<int> total{0};
  pool.parallel_for(0, 30, 1, [&](std::size_t b, std::size_t e) {
    pool.parallel_for(0, 10, 1, [&](std::size_t b2, std::size_t e2) {
      total.fetch_add(static_cast<int>((e - b) * (e2 - b2)));
    });
  });
  CHECK(total.load() == 300);
  CHECK_THROWS_AS(pool.parallel_for(0, 100, 1,
                                    [&](std::size_t b, std::size_t) {
                                      if (b >= 50) throw std::runtime_error("boom");
                                    }),
                  std::runtime_error);
  // The pool still works after an exception.
  std::atomic<int> after{0};
  pool.parallel_for(0, 10, 1, [&](std::size_t b, std::size_t e) { after += static_cast<int>(e - b); });
  CHECK(after.load() == 10);
}
