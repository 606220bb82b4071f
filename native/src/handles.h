// JS handles for libtorch objects. A tensor crosses into JS as an instance of the TS `Tensor` class
// whose `_h` field is a Node-API external owning one at::Tensor reference; the external's finalizer
// runs inside GC (a basic finalizer), so a loop that never calls dispose() still frees native memory.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/Generator.h>

#include "napi_util.h"

namespace tessera {

enum class HandleKind : uint32_t { Tensor = 0x7e45a001, Generator = 0x7e45a002 };

struct TensorHandle {
  HandleKind kind = HandleKind::Tensor;
  at::Tensor tensor;
  int64_t reported_bytes = 0;  // what this handle added to V8's external-memory count
};

struct GeneratorHandle {
  HandleKind kind = HandleKind::Generator;
  at::Generator generator;
};

// Remembers the JS class used for tensors (set once by the TS layer at load time).
void set_tensor_class(napi_env env, napi_value ctor);

// A new JS Tensor owning `t`; an undefined tensor becomes null.
napi_value wrap_tensor(napi_env env, at::Tensor t);
// Just the handle (the `_h` external) owning `t`, for JS to wrap: constructing the Tensor in JS is
// far cheaper than napi_new_instance. An undefined tensor becomes null.
napi_value tensor_handle_value(napi_env env, at::Tensor t);
napi_value wrap_generator(napi_env env, at::Generator g);

// The handle behind a JS Tensor (or a raw `_h` external); nullptr when `v` is neither.
TensorHandle* tensor_handle(napi_env env, napi_value v);
// The tensor handle behind an external's data pointer, or nullptr when it holds something else.
TensorHandle* tensor_handle_of_pointer(void* data);
// Like tensor_handle, but throws a TypeError naming `what` and rejects disposed tensors.
const at::Tensor& unwrap_tensor(napi_env env, napi_value v, const char* what);
GeneratorHandle* generator_handle(napi_env env, napi_value v);

void register_handle_functions(napi_env env, napi_value exports);

}  // namespace tessera
