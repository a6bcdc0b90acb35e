// A caching allocator for LibTorch's CPU tensors. A decode step frees and re-allocates the same
// activation sizes hundreds of times a second; with glibc, blocks above its mmap threshold go
// back to the kernel on free and fault in again, page by page, on the next step (a fifth of a
// 256-draft step was page faults). Large blocks are kept here instead, by size class, and handed
// out again; small ones go straight to malloc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include <c10/core/Allocator.h>

namespace duet {

class CachingCpuAllocator final : public c10::Allocator {
 public:
  static constexpr size_t kMinCachedBytes = size_t{256} << 10;  // smaller blocks: plain malloc

  // Keeps at most `max_cached_bytes` of free blocks; a free beyond that releases the block.
  explicit CachingCpuAllocator(size_t max_cached_bytes);
  ~CachingCpuAllocator() override;

  c10::DataPtr allocate(size_t bytes) const override;
  c10::DeleterFnPtr raw_deleter() const override { return &Free; }

  struct Stats {
    int64_t hits = 0;          // large allocations served from the cache
    int64_t misses = 0;        // large allocations that went to the system
    size_t cached_bytes = 0;   // free blocks held now
    size_t in_use_bytes = 0;   // large blocks handed out and not yet freed
  };
  Stats stats() const;
  // Releases every cached block to the system.
  void Trim();

  // The size class a request of `bytes` is served from: a multiple of 1/8 of the power of two
  // at or below it (at most 12.5% more), at least kMinCachedBytes. Exposed for the tests.
  static size_t SizeClass(size_t bytes);

 private:
  struct Header;  // in front of every block: its owner and size class
  static void Free(void* ptr);
  void Release(Header* header) const;

  const size_t max_cached_bytes_;
  mutable std::mutex mutex_;
  mutable std::map<size_t, std::vector<Header*>> free_;  // size class -> free blocks
  mutable Stats stats_;
};

// Installs one process-wide CachingCpuAllocator as LibTorch's CPU allocator (tensors made before
// keep their own deleter). Holds at most DUET_CPU_CACHE_MB of free blocks (default 1024; 0
// turns the cache off and keeps LibTorch's allocator). Idempotent; returns the allocator, or
// nullptr when turned off.
CachingCpuAllocator* UseCachingCpuAllocator();

}  // namespace duet
