// common/cpu_allocator.h: size classes, reuse of freed blocks, the cache cap, LibTorch tensors
// through it, and concurrent use.
#include "common/cpu_allocator.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <thread>
#include <vector>

namespace duet {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

TEST(CachingCpuAllocatorTest, SizeClassesCoverTheRequestWithinAnEighth) {
  EXPECT_EQ(CachingCpuAllocator::SizeClass(1), CachingCpuAllocator::kMinCachedBytes);
  size_t previous = 0;
  for (size_t bytes = CachingCpuAllocator::kMinCachedBytes; bytes < 64 * kMiB;
       bytes = bytes * 9 / 8 + 4093) {
    const size_t size_class = CachingCpuAllocator::SizeClass(bytes);
    EXPECT_GE(size_class, bytes);
    EXPECT_LE(size_class, bytes + bytes / 8) << bytes;
    EXPECT_GE(size_class, previous);
    EXPECT_EQ(CachingCpuAllocator::SizeClass(size_class), size_class);  // a class is its own
    previous = size_class;
  }
}

TEST(CachingCpuAllocatorTest, FreedLargeBlocksAreHandedOutAgain) {
  CachingCpuAllocator allocator(64 * kMiB);
  void* first = nullptr;
  {
    c10::DataPtr block = allocator.allocate(3 * kMiB);
    first = block.get();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % 64, 0u);
    EXPECT_EQ(allocator.stats().in_use_bytes, CachingCpuAllocator::SizeClass(3 * kMiB));
  }
  EXPECT_EQ(allocator.stats().cached_bytes, CachingCpuAllocator::SizeClass(3 * kMiB));
  c10::DataPtr again = allocator.allocate(3 * kMiB - 100);  // the same size class
  EXPECT_EQ(again.get(), first);
  c10::DataPtr other = allocator.allocate(9 * kMiB);  // another class: a new block
  EXPECT_NE(other.get(), first);
  EXPECT_EQ(allocator.stats().hits, 1);
  EXPECT_EQ(allocator.stats().misses, 2);
  EXPECT_EQ(allocator.stats().cached_bytes, 0u);
  {
    c10::DataPtr small = allocator.allocate(1000);  // plain malloc: never counted or cached
    static_cast<char*>(small.get())[999] = 1;
  }
  EXPECT_EQ(allocator.stats().cached_bytes, 0u);
  EXPECT_EQ(allocator.allocate(0).get(), nullptr);
}

TEST(CachingCpuAllocatorTest, TheCapBoundsWhatIsKeptAndTrimReleasesIt) {
  CachingCpuAllocator allocator(5 * kMiB);
  {
    c10::DataPtr a = allocator.allocate(3 * kMiB), b = allocator.allocate(3 * kMiB);
  }  // one fits under the cap, the other goes back to the system
  EXPECT_EQ(allocator.stats().cached_bytes, CachingCpuAllocator::SizeClass(3 * kMiB));
  EXPECT_EQ(allocator.stats().in_use_bytes, 0u);
  allocator.Trim();
  EXPECT_EQ(allocator.stats().cached_bytes, 0u);
}

TEST(CachingCpuAllocatorTest, LibTorchTensorsGoThroughTheInstalledAllocator) {
  CachingCpuAllocator* allocator = UseCachingCpuAllocator();
  ASSERT_NE(allocator, nullptr);
  EXPECT_EQ(UseCachingCpuAllocator(), allocator);  // once per process
  const int64_t hits = allocator->stats().hits;
  void* first = nullptr;
  {
    torch::Tensor t = torch::ones({1 << 20});  // 4 MiB
    first = t.data_ptr();
  }
  torch::Tensor again = torch::zeros({1 << 20});
  EXPECT_EQ(again.data_ptr(), first);
  EXPECT_EQ(allocator->stats().hits, hits + 1);
  EXPECT_EQ(again.sum().item<float>(), 0.f);  // a reused block holds what was written into it
}

TEST(CachingCpuAllocatorTest, ConcurrentUseBalances) {
  CachingCpuAllocator allocator(256 * kMiB);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&allocator, t] {
      for (int i = 0; i < 200; ++i) {
        c10::DataPtr a = allocator.allocate((1 + (i + t) % 5) * kMiB);
        c10::DataPtr b = allocator.allocate(kMiB / 2);
        static_cast<char*>(a.get())[0] = static_cast<char>(i);
        static_cast<char*>(b.get())[0] = static_cast<char>(t);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const CachingCpuAllocator::Stats stats = allocator.stats();
  EXPECT_EQ(stats.in_use_bytes, 0u);
  EXPECT_EQ(stats.hits + stats.misses, 4 * 200 * 2);
  EXPECT_GT(stats.hits, stats.misses);
}

}  // namespace
}  // namespace duet
