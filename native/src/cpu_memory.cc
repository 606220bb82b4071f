// Bytes held by CPU tensors, counted at the allocator: libtorch's CPU allocator keeps no statistics
// (torch.cuda.memory_allocated has no CPU twin), so a counting allocator wraps the default one when
// asked to. The planner's CPU calibration compares its per-rank memory prediction with the peak.
// Installed on demand, never by default: tensors allocated before keep their own deleters, and the
// default path stays as libtorch ships it.
#include <c10/core/CPUAllocator.h>

#include <atomic>
#include <mutex>
#include <unordered_map>

#include "napi_util.h"
#include "ops.h"

namespace tessera {

namespace {

std::atomic<int64_t> g_current{0};
std::atomic<int64_t> g_peak{0};

void raise_peak(int64_t now) {
  int64_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}

// The wrapped allocation and its size, by data pointer: the DataPtr's context is the data itself,
// as Allocator::raw_allocate requires (oneDNN's scratch memory comes through it).
struct Counted {
  c10::DataPtr inner;
  int64_t bytes;
};
std::mutex g_mu;
std::unordered_map<void*, Counted> g_live;

void release(void* data) {
  c10::DataPtr inner;  // freed after the lock is dropped
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = g_live.find(data);
    g_current -= it->second.bytes;
    inner = std::move(it->second.inner);
    g_live.erase(it);
  }
}

class CountingCpuAllocator final : public c10::Allocator {
 public:
  explicit CountingCpuAllocator(c10::Allocator* inner) : inner_(inner) {}

  c10::DataPtr allocate(size_t n) override {
    c10::DataPtr inner = inner_->allocate(n);
    void* data = inner.get();
    if (data == nullptr) return inner;  // an empty allocation: nothing to count
    const auto bytes = static_cast<int64_t>(n);
    {
      std::lock_guard<std::mutex> lock(g_mu);
      g_live.emplace(data, Counted{std::move(inner), bytes});
    }
    raise_peak(g_current += bytes);
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }

 private:
  c10::Allocator* inner_;
};

// cpuMemoryTracking(): installs the counting allocator (idempotent); later CPU allocations are counted.
TESSERA_ENTRY(js_cpu_memory_tracking) {
  static CountingCpuAllocator* counting = nullptr;
  if (counting == nullptr) {
    counting = new CountingCpuAllocator(c10::GetCPUAllocator());
    // Above the caching allocator's 1 (which it wraps), so no later registration replaces it.
    c10::SetCPUAllocator(counting, /*priority=*/2);
  }
  return make_undefined(env);
}

// cpuMemoryStats() -> [allocated, maxAllocated]: bytes of counted CPU allocations alive now, and their peak.
TESSERA_ENTRY(js_cpu_memory_stats) {
  napi_value arr = make_array(env, 2);
  NAPI_CHECK(napi_set_element(env, arr, 0, make_int64(env, g_current.load())));
  NAPI_CHECK(napi_set_element(env, arr, 1, make_int64(env, g_peak.load())));
  return arr;
}

// cpuResetPeakMemoryStats(): the peak restarts from what is allocated now.
TESSERA_ENTRY(js_cpu_reset_peak_memory_stats) {
  g_peak.store(g_current.load());
  return make_undefined(env);
}

}  // namespace

void register_cpu_memory_functions(napi_env env, napi_value exports) {
  set_function(env, exports, "cpuMemoryTracking", js_cpu_memory_tracking);
  set_function(env, exports, "cpuMemoryStats", js_cpu_memory_stats);
  set_function(env, exports, "cpuResetPeakMemoryStats", js_cpu_reset_peak_memory_stats);
}

}  // namespace tessera
