// A caching CPU allocator for large blocks: the CPU twin of PyTorch's CUDA caching allocator.
//
// Why: tessera frees a tensor when its last owner lets go, which for a tensor the user holds (a
// step's logits in `out`) is when V8 collects the wrapper: in collection order, not LIFO. glibc
// serves blocks below its dynamic mmap threshold (which rises to 32 MiB once a mapped chunk is
// freed) from its heap, and frees that arrive out of order leave holes there that it keeps, so RSS
// climbs (bench/RESULTS.md, "RSS over a training loop"). Trimming or mapping every large block
// keeps RSS flat but faults the pages in again each step.
//
// So a block of at least `min_block` bytes gets a mapping of its own, page-aligned (c10 wants 64
// bytes); when it is freed it goes into a cache keyed by size, and the next allocation of that size
// (or up to 1/8 larger) takes it back with its pages still resident. The cache is bounded: by bytes
// (the oldest block goes back to the OS first) and by age (a block no allocation reused in
// `max_idle_allocs` large allocations goes back), so a workload that changes shape does not hoard
// memory. Smaller allocations go to the allocator it wraps (libtorch's default).
//
// Installed at addon load, before any tensor is made; TESSERA_CPU_ALLOC_CONF (PYTORCH_CUDA_ALLOC_CONF's
// `key:value,...` form) configures or disables it, as does cpuSetAllocatorSettings at run time. Each
// DataPtr carries its own deleter, so blocks made by either path are freed by the path that made them
// whatever the settings are later.
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "napi_util.h"
#include "ops.h"

namespace tessera {

namespace {

struct Settings {
  bool caching = true;
  size_t min_block = size_t{1} << 20;   // 1 MiB: the small Llama's activations and up
  size_t max_cached = size_t{1} << 30;  // 1 GiB
  uint64_t max_idle_allocs = 20000;     // large allocations a cached block may sit unused through
};

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  return first == std::string::npos ? "" : s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// Parses "backend:caching|native,min_block_size_kb:N,max_cached_mb:N,max_idle_allocs:N" onto `base`.
Settings parse_settings(const std::string& conf, Settings base) {
  std::stringstream items(conf);
  std::string item;
  while (std::getline(items, item, ',')) {
    if (item.find_first_not_of(" \t") == std::string::npos) continue;
    const auto colon = item.find(':');
    if (colon == std::string::npos)
      throw type_error("TESSERA_CPU_ALLOC_CONF: expected key:value, got '" + item + "'");
    const std::string k = trim(item.substr(0, colon));
    const std::string v = trim(item.substr(colon + 1));
    if (k == "backend") {
      if (v != "caching" && v != "native")
        throw type_error("TESSERA_CPU_ALLOC_CONF: backend must be 'caching' or 'native', got '" + v + "'");
      base.caching = v == "caching";
      continue;
    }
    char* end = nullptr;
    const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || v[0] < '0' || v[0] > '9' || *end != '\0')
      throw type_error("TESSERA_CPU_ALLOC_CONF: " + k + " must be a non-negative integer, got '" + v + "'");
    if (k == "min_block_size_kb") {
      if (n == 0) throw type_error("TESSERA_CPU_ALLOC_CONF: min_block_size_kb must be at least 1");
      base.min_block = static_cast<size_t>(n) << 10;
    } else if (k == "max_cached_mb") {
      base.max_cached = static_cast<size_t>(n) << 20;
    } else if (k == "max_idle_allocs") {
      base.max_idle_allocs = n;
    } else {
      throw type_error("TESSERA_CPU_ALLOC_CONF: unknown key '" + k +
                       "' (known: backend, min_block_size_kb, max_cached_mb, max_idle_allocs)");
    }
  }
  return base;
}

class CachingCpuAllocator final : public c10::Allocator {
 public:
  explicit CachingCpuAllocator(c10::Allocator* inner, Settings s) : inner_(inner) { apply(s); }

  c10::DataPtr allocate(size_t n) override {
    if (!caching_.load(std::memory_order_relaxed) || n < min_block_.load(std::memory_order_relaxed))
      return inner_->allocate(n);
    void* p = take_or_map(round_to_page(n));
    return {p, p, &release_large, c10::Device(c10::DeviceType::CPU)};
  }

  // raw_allocate hands out the context as the pointer, which both paths make equal to the data.
  c10::DeleterFnPtr raw_deleter() const override { return inner_->raw_deleter() ? &raw_release : nullptr; }

  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }

  void apply(const Settings& s) {
    std::vector<std::pair<void*, size_t>> freed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      max_cached_conf_ = s.max_cached;
      max_cached_ = s.caching ? s.max_cached : 0;
      max_idle_ = s.max_idle_allocs;
      min_block_ = s.min_block;
      caching_ = s.caching;
      trim_locked(freed);
    }
    unmap(freed);
  }

  Settings settings() {
    std::lock_guard<std::mutex> lock(mu_);
    return {caching_.load(), min_block_.load(), max_cached_conf_, max_idle_};
  }

  void empty_cache() {
    std::vector<std::pair<void*, size_t>> freed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      while (!by_age_.empty()) evict_oldest_locked(freed);
    }
    unmap(freed);
  }

  struct Stats {
    int64_t reserved, cached, hits, misses, releases;
  };
  Stats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return {static_cast<int64_t>(live_bytes_ + cached_bytes_), static_cast<int64_t>(cached_bytes_), hits_, misses_,
            releases_};
  }

  // A fork child inherits the lock in whatever state another thread left it; hold it across fork().
  void lock() { mu_.lock(); }
  void unlock() { mu_.unlock(); }

  // Frees p if this allocator's large path made it; false otherwise.
  bool release(void* p) {
    std::vector<std::pair<void*, size_t>> freed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = live_.find(p);
      if (it == live_.end()) return false;
      const size_t size = it->second;
      live_.erase(it);
      live_bytes_ -= size;
      if (size <= max_cached_) {
        const uint64_t seq = seq_++;
        by_size_.emplace(std::make_pair(size, seq), p);
        by_age_.emplace(seq, Cached{size, p, tick_});
        cached_bytes_ += size;
      } else {
        freed.emplace_back(p, size);
        ++releases_;
      }
      trim_locked(freed);
    }
    unmap(freed);
    return true;
  }

  c10::Allocator* inner() const { return inner_; }

 private:
  static size_t round_to_page(size_t n) {
    static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return (n + page - 1) / page * page;
  }

  static void release_large(void* p);
  static void raw_release(void* p);

  void* take_or_map(size_t size) {
    std::vector<std::pair<void*, size_t>> freed;
    void* hit = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++tick_;
      trim_locked(freed);
      // Best fit no more than 1/8 larger; of the blocks that size, the one freed last (its pages are
      // the most likely still in the CPU's caches, and the others age out if the need shrank).
      auto it = by_size_.lower_bound({size, 0});
      if (it != by_size_.end() && it->first.first <= size + size / 8) {
        auto last = std::prev(by_size_.upper_bound({it->first.first, UINT64_MAX}));
        const size_t got = last->first.first;
        hit = last->second;
        by_age_.erase(last->first.second);
        by_size_.erase(last);
        cached_bytes_ -= got;
        live_.emplace(hit, got);
        live_bytes_ += got;
        ++hits_;
      } else {
        ++misses_;
      }
    }
    unmap(freed);
    if (hit != nullptr) return hit;
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      empty_cache();  // what the cache holds may be what the mapping lacked
      p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    TORCH_CHECK_WITH(OutOfMemoryError, p != MAP_FAILED, "CPU out of memory: could not map ", size,
                     " bytes for a tensor (tessera's caching CPU allocator)");
    std::lock_guard<std::mutex> lock(mu_);
    live_.emplace(p, size);
    live_bytes_ += size;
    return p;
  }

  void evict_oldest_locked(std::vector<std::pair<void*, size_t>>& freed) {
    auto oldest = by_age_.begin();
    const size_t size = oldest->second.size;
    void* p = oldest->second.p;
    by_size_.erase({size, oldest->first});
    by_age_.erase(oldest);
    cached_bytes_ -= size;
    freed.emplace_back(p, size);
    ++releases_;
  }

  void trim_locked(std::vector<std::pair<void*, size_t>>& freed) {
    while (!by_age_.empty() && (cached_bytes_ > max_cached_ || tick_ - by_age_.begin()->second.tick > max_idle_))
      evict_oldest_locked(freed);
  }

  static void unmap(const std::vector<std::pair<void*, size_t>>& freed) {
    for (const auto& [p, size] : freed) munmap(p, size);
  }

  c10::Allocator* inner_;
  std::mutex mu_;
  std::atomic<bool> caching_{true};
  std::atomic<size_t> min_block_{0};
  size_t max_cached_ = 0;       // the bound in force: 0 while the backend is native
  size_t max_cached_conf_ = 0;  // the bound configured
  uint64_t max_idle_ = 0;
  struct Cached {
    size_t size;
    void* p;
    uint64_t tick;  // tick_ when it was cached
  };
  uint64_t tick_ = 0;  // counts large allocations: the clock a cached block's idleness is measured on
  uint64_t seq_ = 0;   // numbers cached blocks in the order they were cached (unique keys)
  std::map<std::pair<size_t, uint64_t>, void*> by_size_;  // (size, seq) -> block
  std::map<uint64_t, Cached> by_age_;                    // seq -> block, oldest first
  std::unordered_map<void*, size_t> live_;                       // blocks handed out -> size
  size_t live_bytes_ = 0;
  size_t cached_bytes_ = 0;
  int64_t hits_ = 0, misses_ = 0, releases_ = 0;
};

// Never destroyed: tensors freed by static destructors at exit still find it.
CachingCpuAllocator* g_caching = nullptr;

void CachingCpuAllocator::release_large(void* p) { g_caching->release(p); }

void CachingCpuAllocator::raw_release(void* p) {
  if (!g_caching->release(p)) g_caching->inner()->raw_deleter()(p);
}

Settings env_settings() {
  const char* conf = std::getenv("TESSERA_CPU_ALLOC_CONF");
  return conf ? parse_settings(conf, Settings{}) : Settings{};
}

// cpuSetAllocatorSettings(conf): applies TESSERA_CPU_ALLOC_CONF-style settings now; keys left out keep their value.
TESSERA_ENTRY(js_cpu_set_allocator_settings) {
  auto args = get_args(env, info, 1);
  g_caching->apply(parse_settings(get_string(env, args.args[0], "settings"), g_caching->settings()));
  return make_undefined(env);
}

// cpuAllocatorSettings() -> [caching, minBlockBytes, maxCachedBytes, maxIdleAllocs].
TESSERA_ENTRY(js_cpu_allocator_settings) {
  const Settings s = g_caching->settings();
  napi_value arr = make_array(env, 4);
  NAPI_CHECK(napi_set_element(env, arr, 0, make_bool(env, s.caching)));
  NAPI_CHECK(napi_set_element(env, arr, 1, make_int64(env, static_cast<int64_t>(s.min_block))));
  NAPI_CHECK(napi_set_element(env, arr, 2, make_int64(env, static_cast<int64_t>(s.max_cached))));
  NAPI_CHECK(napi_set_element(env, arr, 3, make_int64(env, static_cast<int64_t>(s.max_idle_allocs))));
  return arr;
}

// cpuCachingAllocatorStats() -> [reserved, cached, hits, misses, releases].
TESSERA_ENTRY(js_cpu_caching_allocator_stats) {
  const auto s = g_caching->stats();
  napi_value arr = make_array(env, 5);
  const int64_t values[] = {s.reserved, s.cached, s.hits, s.misses, s.releases};
  for (uint32_t i = 0; i < 5; ++i) NAPI_CHECK(napi_set_element(env, arr, i, make_int64(env, values[i])));
  return arr;
}

// cpuEmptyCache(): gives every cached block back to the OS.
TESSERA_ENTRY(js_cpu_empty_cache) {
  g_caching->empty_cache();
  return make_undefined(env);
}

}  // namespace

void install_cpu_caching_allocator() {
  if (g_caching != nullptr) return;
  g_caching = new CachingCpuAllocator(c10::GetCPUAllocator(), env_settings());
  pthread_atfork([] { g_caching->lock(); }, [] { g_caching->unlock(); }, [] { g_caching->unlock(); });
  // Above the default's priority 0; the counting allocator (cpu_memory.cc) wraps this one at 2.
  c10::SetCPUAllocator(g_caching, /*priority=*/1);
}

void register_cpu_caching_functions(napi_env env, napi_value exports) {
  set_function(env, exports, "cpuSetAllocatorSettings", js_cpu_set_allocator_settings);
  set_function(env, exports, "cpuAllocatorSettings", js_cpu_allocator_settings);
  set_function(env, exports, "cpuCachingAllocatorStats", js_cpu_caching_allocator_stats);
  set_function(env, exports, "cpuEmptyCache", js_cpu_empty_cache);
}

}  // namespace tessera
