#pragma once
#include "napi_util.h"

namespace tessera {
void register_op_functions(napi_env env, napi_value exports);
void register_tensor_functions(napi_env env, napi_value exports);
void register_autograd_functions(napi_env env, napi_value exports);
// Forgets the JS side of the autograd bridge of an env that is ending.
void forget_autograd_env();
void register_runtime_functions(napi_env env, napi_value exports);
void register_cpu_memory_functions(napi_env env, napi_value exports);
void register_cpu_caching_functions(napi_env env, napi_value exports);
// Makes the caching CPU allocator (cpu_caching_allocator.cc) libtorch's CPU allocator; idempotent.
void install_cpu_caching_allocator();
void register_distributed_functions(napi_env env, napi_value exports);
void register_autocast_functions(napi_env env, napi_value exports);
}  // namespace tessera
