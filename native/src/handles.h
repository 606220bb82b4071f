// JS handles for libtorch objects.
//
// A tensor crosses into JS as an instance of the TS `Tensor` class whose `_h` field is a small
// integer: its slot in this env's tensor table. A native call hands back a new slot unowned; the
// Tensor constructor adopts it (`adopt`), which puts a finalizer on the Tensor object itself, so a
// loop that never calls dispose() still frees native memory, inside GC. Only memory that waits for
// the GC is reported to V8 (see `reported`): a tensor a scope owns is freed when the scope ends.
// Why slots and not Node-API externals: an external costs two allocations and two weak handles per tensor, one
// finalizer on the Tensor costs one of each, and a slot index crosses as a small integer that
// allocates nothing.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/Generator.h>

#include "napi_util.h"

namespace tessera {

struct TensorHandle {
  enum class State : uint8_t { Free, Unowned, Owned };
  at::Tensor tensor;
  int64_t bytes = 0;  // its storage's size when this handle was the sole owner at creation, else 0
  State state = State::Free;
  bool reported = false;  // `bytes` is in V8's external-memory count: the GC, not a scope, frees it
};

enum class HandleKind : uint32_t { Generator = 0x7e45a002 };

struct GeneratorHandle {
  HandleKind kind = HandleKind::Generator;
  at::Generator generator;
};

// Creates this env's tensor table (once, at load).
void init_tensor_table(napi_env env);

// Remembers the JS class used for tensors (set once by the TS layer at load time).
void set_tensor_class(napi_env env, napi_value ctor);
// Forgets the Tensor class of an env that is ending (its reference ends with it).
void forget_tensor_class();

// A new JS Tensor owning `t`; an undefined tensor becomes null.
napi_value wrap_tensor(napi_env env, at::Tensor t);
// Just the handle (an unowned slot index) holding `t`, for JS to wrap: constructing the Tensor in
// JS is far cheaper than napi_new_instance. An undefined tensor becomes null.
napi_value tensor_handle_value(napi_env env, at::Tensor t);
napi_value wrap_generator(napi_env env, at::Generator g);

// The handle behind a JS Tensor object; nullptr for anything else (a bare number included).
TensorHandle* tensor_handle(napi_env env, napi_value v);
// The handle behind a slot index (a Tensor's `_h`); nullptr when `v` is not a slot in use.
TensorHandle* tensor_handle_of_index(napi_env env, napi_value v);
// A Tensor or its `_h`; throws a TypeError naming `what` otherwise, and rejects disposed tensors.
// For handles the TS layer passes; a value from user code goes through unwrap_tensor_object.
const at::Tensor& unwrap_tensor(napi_env env, napi_value v, const char* what);
// A Tensor object only: in a value from user code a number is a number, never a tensor's slot.
// `index` >= 0 names an element of a list (`what[index]`) in the error.
const at::Tensor& unwrap_tensor_object(napi_env env, napi_value v, const char* what, int64_t index = -1);
GeneratorHandle* generator_handle(napi_env env, napi_value v);

// A tensor whose storage has no memory although it has elements: a view of a buffer whose memory
// was freed (resize_storage_bytes_ to 0, as sharded data parallelism does to a unit's gathered
// weights between uses). Reading it would read freed memory, so every op argument is checked.
inline void check_storage(const at::Tensor& t, const std::string& what) {
  if (t.has_storage() && t.storage().data() == nullptr && t.numel() > 0 && !t.is_meta()) {
    throw JsError(JsError::Kind::Error,
                  what + ": this tensor's memory was freed (its storage has 0 bytes); a parameter of a model sharded by ZeRO-3 "
                         "holds memory only while its module runs: read the model's state_dict() instead");
  }
}

void register_handle_functions(napi_env env, napi_value exports);

}  // namespace tessera
