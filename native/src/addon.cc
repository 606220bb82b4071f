// The tessera native addon: registers each group of entry points on the module's exports.
#include "handles.h"
#include "ops.h"

#include <atomic>

namespace {

// The addon keeps per-process state for one JS thread (interned keys, the Tensor class, the
// autograd pump), so a second env — a worker_threads Worker — gets a clear error instead of
// sharing it unsafely. The env that loaded it first owns it until that env ends.
std::atomic<bool> g_in_use{false};

// The ending env's references end with it; the next env (a later Worker) makes its own.
void release_addon(void*) {
  tessera::forget_keys();
  tessera::forget_error_classes();
  tessera::forget_tensor_class();
  tessera::forget_autograd_env();
  g_in_use = false;
}

napi_value init(napi_env env, napi_value exports) {
  return tessera::guarded(env, [&] {
    if (g_in_use.exchange(true))
      throw tessera::JsError(tessera::JsError::Kind::Error,
                             "tessera is already loaded by another thread of this process: its native addon serves one JS thread "
                             "(worker_threads are not supported; run separate processes, e.g. `tessera run --nproc-per-node N script.ts`)");
    NAPI_CHECK(napi_add_env_cleanup_hook(env, release_addon, nullptr));
    // Before any tensor is made, so that every large block goes through the cache.
    tessera::install_cpu_caching_allocator();
    tessera::init_keys(env);
    tessera::init_tensor_table(env);
    tessera::register_error_functions(env, exports);
    tessera::register_handle_functions(env, exports);
    tessera::register_op_functions(env, exports);
    tessera::register_tensor_functions(env, exports);
    tessera::register_autograd_functions(env, exports);
    tessera::register_runtime_functions(env, exports);
    tessera::register_cpu_memory_functions(env, exports);
    tessera::register_cpu_caching_functions(env, exports);
    tessera::register_distributed_functions(env, exports);
    tessera::register_autocast_functions(env, exports);
    return exports;
  });
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
