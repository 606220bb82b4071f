// Process-wide state that Python reaches through torch.* functions: seeds and generators, the
// default dtype, threads, and the device queries of torch.cuda (written against the
// device-generic allocator interface, so this file needs no CUDA headers).
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/CachingDeviceAllocator.h>
#include <c10/core/DefaultDtype.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "handles.h"
#include "ivalue_convert.h"
#include "ops.h"

namespace tessera {

namespace {

int cuda_device_count() { return at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0; }

c10::DeviceIndex cuda_index(napi_env env, const CallInfo& ci, size_t i) {
  if (ci.args.size() <= i || type_of(env, ci.args[i]) == napi_undefined || type_of(env, ci.args[i]) == napi_null)
    return at::detail::getCUDAHooks().getCurrentDevice();
  auto idx = static_cast<c10::DeviceIndex>(get_int64(env, ci.args[i], "device"));
  if (idx < 0 || idx >= cuda_device_count())
    throw JsError(JsError::Kind::RangeError, "invalid CUDA device index " + std::to_string(idx) + " (" +
                                                 std::to_string(cuda_device_count()) + " devices)");
  return idx;
}

c10::DeviceAllocator* cuda_allocator() {
  if (!at::hasCUDA()) throw JsError(JsError::Kind::Error, "Torch not compiled with CUDA enabled, or no CUDA device is available");
  return c10::getDeviceAllocator(c10::DeviceType::CUDA);
}

TESSERA_ENTRY(js_manual_seed) {
  auto ci = get_args(env, info, 1);
  uint64_t seed = static_cast<uint64_t>(get_int64(env, ci.args.at(0), "seed"));
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
  for (int i = 0; i < cuda_device_count(); ++i) {
    auto gen = at::globalContext().defaultGenerator(c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(i)));
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
  return make_undefined(env);
}

TESSERA_ENTRY(js_initial_seed) {
  auto gen = at::detail::getDefaultCPUGenerator();
  return make_int64(env, static_cast<int64_t>(gen.current_seed()));
}

// newGenerator(device?) -> generator handle
TESSERA_ENTRY(js_new_generator) {
  auto ci = get_args(env, info, 1);
  c10::Device d(c10::DeviceType::CPU);
  if (!ci.args.empty() && type_of(env, ci.args[0]) != napi_undefined) d = to_device(env, ci.args[0], "device");
  at::Generator g = d.is_cpu() ? at::detail::createCPUGenerator() : at::detail::getCUDAHooks().getNewGenerator(d.index());
  return wrap_generator(env, std::move(g));
}

GeneratorHandle* arg_generator(napi_env env, const CallInfo& ci) {
  GeneratorHandle* g = ci.args.empty() ? nullptr : generator_handle(env, ci.args[0]);
  if (g == nullptr) throw type_error("expected a torch.Generator");
  return g;
}

TESSERA_ENTRY(js_generator_manual_seed) {
  auto ci = get_args(env, info, 2);
  GeneratorHandle* g = arg_generator(env, ci);
  std::lock_guard<std::mutex> lock(g->generator.mutex());
  g->generator.set_current_seed(static_cast<uint64_t>(get_int64(env, ci.args.at(1), "seed")));
  return make_undefined(env);
}

TESSERA_ENTRY(js_generator_initial_seed) {
  auto ci = get_args(env, info, 1);
  return make_int64(env, static_cast<int64_t>(arg_generator(env, ci)->generator.current_seed()));
}

TESSERA_ENTRY(js_generator_get_state) {
  auto ci = get_args(env, info, 1);
  GeneratorHandle* g = arg_generator(env, ci);
  std::lock_guard<std::mutex> lock(g->generator.mutex());
  return wrap_tensor(env, at::Tensor(g->generator.get_state()));
}

TESSERA_ENTRY(js_generator_set_state) {
  auto ci = get_args(env, info, 2);
  GeneratorHandle* g = arg_generator(env, ci);
  const at::Tensor& given = unwrap_tensor(env, ci.args.at(1), "state");
  // Generators read the state from the start of its storage: a view into a larger storage (a
  // checkpoint's mapped file) is copied into one of its own first, as Python's loaders hand it over.
  const bool compact = given.is_contiguous() && given.storage_offset() == 0 && given.storage().nbytes() == given.nbytes();
  const at::Tensor state = compact ? given : given.clone(at::MemoryFormat::Contiguous);
  std::lock_guard<std::mutex> lock(g->generator.mutex());
  g->generator.set_state(state);
  return make_undefined(env);
}

TESSERA_ENTRY(js_default_generator) { return wrap_generator(env, at::detail::getDefaultCPUGenerator()); }

// cudaDefaultGenerator(index?) -> a CUDA device's default generator (the current device's by default)
TESSERA_ENTRY(js_cuda_default_generator) {
  auto ci = get_args(env, info, 1);
  cuda_allocator();  // the error when CUDA is absent
  return wrap_generator(env, at::globalContext().defaultGenerator(c10::Device(c10::DeviceType::CUDA, cuda_index(env, ci, 0))));
}

TESSERA_ENTRY(js_get_default_dtype) {
  return make_int64(env, static_cast<int64_t>(c10::get_default_dtype_as_scalartype()));
}

TESSERA_ENTRY(js_set_default_dtype) {
  auto ci = get_args(env, info, 1);
  at::ScalarType st = to_scalar_type(env, ci.args.at(0), "dtype");
  if (!at::isFloatingType(st)) throw type_error("only floating-point types are supported as the default type");
  c10::set_default_dtype(c10::scalarTypeToTypeMeta(st));
  return make_undefined(env);
}

TESSERA_ENTRY(js_get_num_threads) { return make_int64(env, at::get_num_threads()); }

TESSERA_ENTRY(js_set_num_threads) {
  auto ci = get_args(env, info, 1);
  int64_t n = get_int64(env, ci.args.at(0), "num_threads");
  if (n < 1) throw JsError(JsError::Kind::RangeError, "set_num_threads expects a positive integer");
  at::set_num_threads(static_cast<int>(n));
  return make_undefined(env);
}

// torch.backends.mkldnn: whether libtorch was built with oneDNN, and whether ops may use it (for
// tessera, also the float32 CPU linear of cpu_linear.cc).
TESSERA_ENTRY(js_mkldnn_is_available) { return make_bool(env, at::hasMKLDNN()); }

TESSERA_ENTRY(js_mkldnn_enabled) { return make_bool(env, at::globalContext().userEnabledMkldnn()); }

TESSERA_ENTRY(js_set_mkldnn_enabled) {
  auto ci = get_args(env, info, 1);
  at::globalContext().setUserEnabledMkldnn(get_bool(env, ci.args.at(0), "enabled"));
  return make_undefined(env);
}

TESSERA_ENTRY(js_cuda_is_available) { return make_bool(env, cuda_device_count() > 0); }

TESSERA_ENTRY(js_cuda_device_count) { return make_int64(env, cuda_device_count()); }

TESSERA_ENTRY(js_cuda_current_device) {
  cuda_allocator();
  return make_int64(env, at::detail::getCUDAHooks().getCurrentDevice());
}

TESSERA_ENTRY(js_cuda_set_device) {
  auto ci = get_args(env, info, 1);
  cuda_allocator();
  at::detail::getCUDAHooks().setCurrentDevice(cuda_index(env, ci, 0));
  return make_undefined(env);
}

TESSERA_ENTRY(js_cuda_synchronize) {
  auto ci = get_args(env, info, 1);
  cuda_allocator();
  at::detail::getCUDAHooks().deviceSynchronize(cuda_index(env, ci, 0));
  return make_undefined(env);
}

// cudaMemoryStats(device?) -> [allocated, maxAllocated, reserved, maxReserved]
TESSERA_ENTRY(js_cuda_memory_stats) {
  auto ci = get_args(env, info, 1);
  auto* alloc = cuda_allocator();
  auto stats = alloc->getDeviceStats(cuda_index(env, ci, 0));
  constexpr size_t kAggregate = 0;  // StatType::AGGREGATE
  napi_value arr = make_array(env, 4);
  NAPI_CHECK(napi_set_element(env, arr, 0, make_int64(env, stats.allocated_bytes[kAggregate].current)));
  NAPI_CHECK(napi_set_element(env, arr, 1, make_int64(env, stats.allocated_bytes[kAggregate].peak)));
  NAPI_CHECK(napi_set_element(env, arr, 2, make_int64(env, stats.reserved_bytes[kAggregate].current)));
  NAPI_CHECK(napi_set_element(env, arr, 3, make_int64(env, stats.reserved_bytes[kAggregate].peak)));
  return arr;
}

TESSERA_ENTRY(js_cuda_reset_peak_memory_stats) {
  auto ci = get_args(env, info, 1);
  cuda_allocator()->resetPeakStats(cuda_index(env, ci, 0));
  return make_undefined(env);
}

TESSERA_ENTRY(js_cuda_empty_cache) {
  cuda_allocator()->emptyCache();
  return make_undefined(env);
}

// cudaMemInfo(device?) -> [free, total]
TESSERA_ENTRY(js_cuda_mem_info) {
  auto ci = get_args(env, info, 1);
  auto fm = cuda_allocator()->getMemoryInfo(cuda_index(env, ci, 0));
  napi_value arr = make_array(env, 2);
  NAPI_CHECK(napi_set_element(env, arr, 0, make_int64(env, static_cast<int64_t>(fm.first))));
  NAPI_CHECK(napi_set_element(env, arr, 1, make_int64(env, static_cast<int64_t>(fm.second))));
  return arr;
}

// setMmapThreshold(bytes) -> whether it was set: host allocations of at least `bytes` get their
// own mapping, returned to the OS when freed. glibc otherwise raises its threshold to the largest
// block freed so far (up to 32 MiB), after which buffers that are freed and allocated again every
// step (ZeRO-3's gathered layers) live in a heap that never shrinks. No-op without glibc.
TESSERA_ENTRY(js_set_mmap_threshold) {
  auto ci = get_args(env, info, 1);
  int64_t bytes = get_int64(env, ci.args.at(0), "bytes");
  if (bytes < 0 || bytes > (int64_t{1} << 30)) throw JsError(JsError::Kind::RangeError, "setMmapThreshold: bytes must be in [0, 1 GiB]");
#if defined(__GLIBC__)
  return make_bool(env, mallopt(M_MMAP_THRESHOLD, static_cast<int>(bytes)) == 1);
#else
  return make_bool(env, false);
#endif
}

TESSERA_ENTRY(js_versions) {
  napi_value o;
  NAPI_CHECK(napi_create_object(env, &o));
  NAPI_CHECK(napi_set_named_property(env, o, "torch", make_string(env, TESSERA_TORCH_VERSION)));
  NAPI_CHECK(napi_set_named_property(env, o, "cuda", at::hasCUDA() ? make_bool(env, true) : make_null(env)));
  NAPI_CHECK(napi_set_named_property(env, o, "config", make_string(env, at::show_config())));
  return o;
}

}  // namespace

void register_runtime_functions(napi_env env, napi_value exports) {
  set_function(env, exports, "manualSeed", js_manual_seed);
  set_function(env, exports, "setMmapThreshold", js_set_mmap_threshold);
  set_function(env, exports, "initialSeed", js_initial_seed);
  set_function(env, exports, "newGenerator", js_new_generator);
  set_function(env, exports, "defaultGenerator", js_default_generator);
  set_function(env, exports, "cudaDefaultGenerator", js_cuda_default_generator);
  set_function(env, exports, "generatorManualSeed", js_generator_manual_seed);
  set_function(env, exports, "generatorInitialSeed", js_generator_initial_seed);
  set_function(env, exports, "generatorGetState", js_generator_get_state);
  set_function(env, exports, "generatorSetState", js_generator_set_state);
  set_function(env, exports, "getDefaultDtype", js_get_default_dtype);
  set_function(env, exports, "setDefaultDtype", js_set_default_dtype);
  set_function(env, exports, "getNumThreads", js_get_num_threads);
  set_function(env, exports, "setNumThreads", js_set_num_threads);
  set_function(env, exports, "mkldnnIsAvailable", js_mkldnn_is_available);
  set_function(env, exports, "mkldnnEnabled", js_mkldnn_enabled);
  set_function(env, exports, "setMkldnnEnabled", js_set_mkldnn_enabled);
  set_function(env, exports, "cudaIsAvailable", js_cuda_is_available);
  set_function(env, exports, "cudaDeviceCount", js_cuda_device_count);
  set_function(env, exports, "cudaCurrentDevice", js_cuda_current_device);
  set_function(env, exports, "cudaSetDevice", js_cuda_set_device);
  set_function(env, exports, "cudaSynchronize", js_cuda_synchronize);
  set_function(env, exports, "cudaMemoryStats", js_cuda_memory_stats);
  set_function(env, exports, "cudaResetPeakMemoryStats", js_cuda_reset_peak_memory_stats);
  set_function(env, exports, "cudaEmptyCache", js_cuda_empty_cache);
  set_function(env, exports, "cudaMemInfo", js_cuda_mem_info);
  set_function(env, exports, "versions", js_versions);
}

}  // namespace tessera
