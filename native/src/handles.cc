#include "handles.h"

#include <utility>

namespace tessera {

namespace {

napi_ref g_tensor_ctor = nullptr;

// Only a tensor that is the sole owner of its storage reports it, so views of a large tensor do not
// multiply the count; V8 uses the total to decide when to collect.
int64_t storage_bytes_if_owner(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage()) return 0;
  const auto& storage = t.storage();
  if (storage.use_count() != 1) return 0;
  return static_cast<int64_t>(storage.nbytes());
}

// V8's external-memory count is adjusted in steps of at least this many bytes: one
// napi_adjust_external_memory per tiny tensor costs more than the op. Larger tensors report at once.
constexpr int64_t kReportStep = 256 * 1024;
thread_local int64_t t_unreported = 0;  // per thread: each worker thread has its own Node-API env

void report_external(node_api_basic_env env, int64_t delta) {
  t_unreported += delta;
  if (t_unreported < kReportStep && t_unreported > -kReportStep) return;
  // Taken before the call: a positive report may run a GC right here, whose finalizers report their
  // own (negative) deltas; a count still holding this one would let them re-report it from inside
  // the GC, which V8 does not allow.
  const int64_t delta_now = std::exchange(t_unreported, 0);
  int64_t ignored;
  napi_adjust_external_memory(env, delta_now, &ignored);
}

void finalize_tensor(node_api_basic_env env, void* data, void*) {
  auto* h = static_cast<TensorHandle*>(data);
  if (h->reported_bytes != 0) report_external(env, -h->reported_bytes);
  delete h;
}

void finalize_generator(node_api_basic_env, void* data, void*) { delete static_cast<GeneratorHandle*>(data); }

void* external_data(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return nullptr;
  if (t == napi_object) {
    if (napi_get_property(env, v, key(env, KEY_H), &v) != napi_ok) return nullptr;
  } else if (t != napi_external) {
    return nullptr;
  }
  // Fails (without throwing) when `_h` is not an external.
  void* data = nullptr;
  if (napi_get_value_external(env, v, &data) != napi_ok) return nullptr;
  return data;
}

}  // namespace

void set_tensor_class(napi_env env, napi_value ctor) {
  if (g_tensor_ctor != nullptr) NAPI_CHECK(napi_delete_reference(env, g_tensor_ctor));
  NAPI_CHECK(napi_create_reference(env, ctor, 1, &g_tensor_ctor));
}

napi_value tensor_handle_value(napi_env env, at::Tensor t) {
  if (!t.defined()) return make_null(env);
  auto owned = std::make_unique<TensorHandle>();
  owned->reported_bytes = storage_bytes_if_owner(t);
  owned->tensor = std::move(t);
  napi_value ext;
  NAPI_CHECK(napi_create_external(env, owned.get(), finalize_tensor, nullptr, &ext));
  TensorHandle* h = owned.release();  // owned by the external from here on
  if (h->reported_bytes != 0) report_external(env, h->reported_bytes);
  return ext;
}

napi_value wrap_tensor(napi_env env, at::Tensor t) {
  if (!t.defined()) return make_null(env);
  napi_value ext = tensor_handle_value(env, std::move(t));
  if (g_tensor_ctor == nullptr) return ext;
  napi_value ctor, obj;
  NAPI_CHECK(napi_get_reference_value(env, g_tensor_ctor, &ctor));
  NAPI_CHECK(napi_new_instance(env, ctor, 1, &ext, &obj));
  return obj;
}

napi_value wrap_generator(napi_env env, at::Generator g) {
  auto owned = std::make_unique<GeneratorHandle>();
  owned->generator = std::move(g);
  napi_value ext;
  NAPI_CHECK(napi_create_external(env, owned.get(), finalize_generator, nullptr, &ext));
  owned.release();
  return ext;
}

TensorHandle* tensor_handle(napi_env env, napi_value v) { return tensor_handle_of_pointer(external_data(env, v)); }

TensorHandle* tensor_handle_of_pointer(void* data) {
  auto* h = static_cast<TensorHandle*>(data);
  return h != nullptr && h->kind == HandleKind::Tensor ? h : nullptr;
}

const at::Tensor& unwrap_tensor(napi_env env, napi_value v, const char* what) {
  TensorHandle* h = tensor_handle(env, v);
  if (h == nullptr) throw type_error(std::string(what) + " must be a Tensor");
  if (!h->tensor.defined()) throw JsError(JsError::Kind::Error, std::string(what) + " is a disposed Tensor");
  return h->tensor;
}

GeneratorHandle* generator_handle(napi_env env, napi_value v) {
  auto* data = static_cast<GeneratorHandle*>(external_data(env, v));
  if (data == nullptr || data->kind != HandleKind::Generator) return nullptr;
  return data;
}

namespace {

TESSERA_ENTRY(js_set_tensor_class) {
  auto ci = get_args(env, info, 1);
  set_tensor_class(env, ci.args.at(0));
  return make_undefined(env);
}

// dispose(h): drops this handle's reference now instead of at GC.
TESSERA_ENTRY(js_dispose) {
  auto ci = get_args(env, info, 1);
  TensorHandle* h = tensor_handle(env, ci.args.at(0));
  if (h == nullptr) throw type_error("dispose: expected a Tensor");
  if (h->reported_bytes != 0) report_external(env, -h->reported_bytes);
  h->reported_bytes = 0;
  h->tensor.reset();
  return make_undefined(env);
}

TESSERA_ENTRY(js_is_disposed) {
  auto ci = get_args(env, info, 1);
  TensorHandle* h = tensor_handle(env, ci.args.at(0));
  return make_bool(env, h == nullptr || !h->tensor.defined());
}

}  // namespace

void register_handle_functions(napi_env env, napi_value exports) {
  set_function(env, exports, "setTensorClass", js_set_tensor_class);
  set_function(env, exports, "dispose", js_dispose);
  set_function(env, exports, "isDisposed", js_is_disposed);
}

}  // namespace tessera
