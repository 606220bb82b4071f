// The tessera native addon: registers each group of entry points on the module's exports.
#include "handles.h"
#include "ops.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace {

// Tensors that JS drops are freed by the thousand in one GC pass, not one at a time as CPython's
// refcounting frees them. In such a batch glibc's fastbin chunks (the small handles) are interleaved
// with frees that coalesce into large free blocks, and every such free makes glibc consolidate all
// fastbins again (malloc_consolidate): a quarter of a tiny op's time went there. Without fastbins,
// small blocks still go through the per-thread cache, and the batch costs a plain free each.
void tune_malloc() {
#ifdef __GLIBC__
  mallopt(M_MXFAST, 0);
#endif
}

napi_value init(napi_env env, napi_value exports) {
  return tessera::guarded(env, [&] {
    tune_malloc();
    tessera::init_keys(env);
    tessera::register_handle_functions(env, exports);
    tessera::register_op_functions(env, exports);
    tessera::register_tensor_functions(env, exports);
    tessera::register_autograd_functions(env, exports);
    tessera::register_runtime_functions(env, exports);
    tessera::register_distributed_functions(env, exports);
    tessera::register_autocast_functions(env, exports);
    return exports;
  });
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
