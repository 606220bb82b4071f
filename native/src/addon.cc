// The tessera native addon: registers each group of entry points on the module's exports.
#include "handles.h"
#include "ops.h"

namespace {

napi_value init(napi_env env, napi_value exports) {
  return tessera::guarded(env, [&] {
    tessera::init_keys(env);
    tessera::init_tensor_table(env);
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
