// Implementation of common/cpu_allocator.h.
#include "common/cpu_allocator.h"

#include <c10/core/CPUAllocator.h>

#include <cstdlib>
#include <new>
#include <string>

namespace duet {

// 64 bytes, so the data after it keeps the block's 64-byte alignment (LibTorch's gAlignment).
struct alignas(64) CachingCpuAllocator::Header {
  const CachingCpuAllocator* owner;  // null: a small block, freed to malloc at once
  size_t size_class;                 // bytes of data after the header
};

namespace {

constexpr size_t kAlignment = 64;

void* AllocateBlock(size_t bytes) {
  void* block = nullptr;
  if (posix_memalign(&block, kAlignment, bytes) != 0) return nullptr;
  return block;
}

}  // namespace

CachingCpuAllocator::CachingCpuAllocator(size_t max_cached_bytes)
    : max_cached_bytes_(max_cached_bytes) {}

CachingCpuAllocator::~CachingCpuAllocator() { Trim(); }

size_t CachingCpuAllocator::SizeClass(size_t bytes) {
  if (bytes <= kMinCachedBytes) return kMinCachedBytes;
  size_t power = kMinCachedBytes;
  while (power <= bytes / 2) power *= 2;  // the largest power of two <= bytes
  const size_t step = power / 8;
  return (bytes + step - 1) / step * step;
}

c10::DataPtr CachingCpuAllocator::allocate(size_t bytes) const {
  if (bytes == 0) return {nullptr, nullptr, &Free, c10::Device(c10::DeviceType::CPU)};
  Header* header = nullptr;
  if (bytes < kMinCachedBytes) {
    header = static_cast<Header*>(AllocateBlock(sizeof(Header) + bytes));
    if (header == nullptr) throw std::bad_alloc();
    header->owner = nullptr;
    header->size_class = bytes;
  } else {
    const size_t size_class = SizeClass(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(size_class);
      if (it != free_.end() && !it->second.empty()) {
        header = it->second.back();
        it->second.pop_back();
        stats_.cached_bytes -= size_class;
        ++stats_.hits;
      } else {
        ++stats_.misses;
      }
      stats_.in_use_bytes += size_class;
    }
    if (header == nullptr) {
      header = static_cast<Header*>(AllocateBlock(sizeof(Header) + size_class));
      if (header == nullptr) {
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.in_use_bytes -= size_class;
        throw std::bad_alloc();
      }
      header->owner = this;
      header->size_class = size_class;
    }
  }
  void* data = header + 1;
  return {data, data, &Free, c10::Device(c10::DeviceType::CPU)};
}

void CachingCpuAllocator::Free(void* ptr) {
  if (ptr == nullptr) return;
  Header* header = static_cast<Header*>(ptr) - 1;
  if (header->owner == nullptr) {
    std::free(header);
    return;
  }
  header->owner->Release(header);
}

void CachingCpuAllocator::Release(Header* header) const {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.in_use_bytes -= header->size_class;
    if (stats_.cached_bytes + header->size_class <= max_cached_bytes_) {
      free_[header->size_class].push_back(header);
      stats_.cached_bytes += header->size_class;
      return;
    }
  }
  std::free(header);
}

CachingCpuAllocator::Stats CachingCpuAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingCpuAllocator::Trim() {
  std::map<size_t, std::vector<Header*>> blocks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    blocks.swap(free_);
    stats_.cached_bytes = 0;
  }
  for (auto& [size_class, list] : blocks) {
    for (Header* header : list) std::free(header);
  }
}

CachingCpuAllocator* UseCachingCpuAllocator() {
  static CachingCpuAllocator* const allocator = []() -> CachingCpuAllocator* {
    size_t megabytes = 1024;
    if (const char* env = std::getenv("DUET_CPU_CACHE_MB"); env != nullptr && *env != '\0') {
      megabytes = std::strtoull(env, nullptr, 10);
    }
    if (megabytes == 0) return nullptr;
    // Never destroyed: tensors may outlive main() and come back to it from static destructors.
    auto* cache = new CachingCpuAllocator(megabytes << 20);
    c10::SetCPUAllocator(cache, /*priority=*/1);  // above LibTorch's own (0)
    return cache;
  }();
  return allocator;
}

}  // namespace duet
