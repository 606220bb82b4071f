#include "handles.h"
#include "ivalue_convert.h"

#include <memory>
#include <utility>
#include <vector>

namespace tessera {

namespace {

napi_ref g_tensor_ctor = nullptr;

// One env's tensor slots. Slots live in fixed chunks that never move, so a TensorHandle* stays
// valid while its slot is in use; freed slots are reused last-in first-out (warm in cache).
class TensorTable {
 public:
  TensorHandle* at(uint32_t i) { return i < size_ ? &chunks_[i >> kShift][i & kMask] : nullptr; }

  uint32_t acquire() {
    if (!free_.empty()) {
      uint32_t i = free_.back();
      free_.pop_back();
      return i;
    }
    // Indices stay small integers, which V8 passes without allocating.
    if (size_ == kMaxSlots) throw JsError(JsError::Kind::RangeError, "too many live tensors (2^30)");
    if ((size_ & kMask) == 0) chunks_.push_back(std::make_unique<TensorHandle[]>(kChunk));
    return size_++;
  }

  void release(uint32_t i) { free_.push_back(i); }

  std::vector<uint32_t> deferred;  // collected while a native entry ran; released when it returns

 private:
  static constexpr uint32_t kShift = 12, kChunk = 1u << kShift, kMask = kChunk - 1, kMaxSlots = 1u << 30;
  std::vector<std::unique_ptr<TensorHandle[]>> chunks_;
  std::vector<uint32_t> free_;
  uint32_t size_ = 0;
};

TensorTable* table(node_api_basic_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<TensorTable*>(data);
}

// Only a handle that is the sole owner of its tensor and of that tensor's storage reports it, so
// views of a large tensor, and further wrappers of one tensor (`p.grad`, `x.float()` of a float
// tensor, `.data`), do not multiply the count; the total decides when to collect, and an inflated
// total runs a full collection every few steps.
int64_t storage_bytes_if_owner(const at::Tensor& t) {
  if (!t.has_storage() || t.use_count() != 1) return 0;
  const auto& storage = t.storage();
  if (storage.use_count() != 1) return 0;
  return static_cast<int64_t>(storage.nbytes());
}

// Per thread: each worker thread has its own Node-API env.
thread_local int64_t t_gc_owned = 0;   // bytes of the tensors only the GC will free
thread_local int64_t t_v8_known = 0;   // how much of that V8's external-memory count holds
thread_local bool t_tell_v8 = true;    // off while tessera starts the collections (torch/_tensor_gc.ts)

// V8's external-memory count is adjusted in steps of at least this many bytes: one
// napi_adjust_external_memory per tiny tensor costs more than the op. Larger tensors report at once.
constexpr int64_t kReportStep = 256 * 1024;

void tell_v8(node_api_basic_env env, bool force) {
  const int64_t delta = (t_tell_v8 ? t_gc_owned : 0) - t_v8_known;
  if (delta == 0 || (!force && delta < kReportStep && delta > -kReportStep)) return;
  // Recorded before the call: a positive report may run a GC right here, whose finalizers report
  // their own (negative) deltas; a count still missing this one would let them re-report it from
  // inside the GC, which V8 does not allow.
  t_v8_known += delta;
  int64_t ignored;
  napi_adjust_external_memory(env, delta, &ignored);
}

void report_external(node_api_basic_env env, int64_t delta) {
  t_gc_owned += delta;
  tell_v8(env, false);
}

void drop_tensor(node_api_basic_env env, TensorHandle* h) {
  if (h->reported) report_external(env, -h->bytes);
  h->reported = false;
  h->bytes = 0;
  h->tensor.reset();
}

// Counts a handle's memory as the GC's to free from now on. Returns the bytes newly counted (0 when
// it already was, or has none), which torch/_tensor_gc.ts adds up to decide its collections.
int64_t report_handle(node_api_basic_env env, TensorHandle* h) {
  if (h->reported || h->bytes == 0 || !h->tensor.defined()) return 0;
  h->reported = true;
  report_external(env, h->bytes);
  return h->bytes;
}

void release_slot(node_api_basic_env env, TensorTable* tt, uint32_t i) {
  TensorHandle* h = tt->at(i);
  drop_tensor(env, h);
  h->state = TensorHandle::State::Free;
  tt->release(i);
}

// Runs inside GC when a Tensor object dies.
void finalize_tensor(node_api_basic_env env, void* data, void* hint) {
  auto* tt = static_cast<TensorTable*>(hint);
  auto i = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(data));
  if (t_entry_depth > 0) tt->deferred.push_back(i);
  else release_slot(env, tt, i);
}

void finalize_table(napi_env, void* data, void*) { delete static_cast<TensorTable*>(data); }

void finalize_generator(node_api_basic_env, void* data, void*) { delete static_cast<GeneratorHandle*>(data); }

// The slot a handle value names, or nullptr when `v` is not a slot index of this table.
TensorHandle* slot_of(napi_env env, TensorTable* tt, napi_value v, uint32_t* index) {
  if (tt == nullptr || napi_get_value_uint32(env, v, index) != napi_ok) return nullptr;
  return tt->at(*index);
}

// A new unowned slot holding `t` (defined).
uint32_t new_slot(TensorTable* tt, at::Tensor t) {
  uint32_t i = tt->acquire();
  TensorHandle* h = tt->at(i);
  h->bytes = storage_bytes_if_owner(t);
  h->reported = false;
  h->tensor = std::move(t);
  h->state = TensorHandle::State::Unowned;
  return i;
}

TensorHandle* handle_of_object(napi_env env, napi_value obj) {
  napi_value h;
  if (napi_get_property(env, obj, key(env, KEY_H), &h) != napi_ok) return nullptr;
  return tensor_handle_of_index(env, h);
}

}  // namespace

void init_tensor_table(napi_env env) {
  auto tt = std::make_unique<TensorTable>();
  NAPI_CHECK(napi_set_instance_data(env, tt.get(), finalize_table, nullptr));
  tt.release();  // owned by the env from here on
}

void release_deferred_handles(napi_env env) {
  TensorTable* tt = table(env);
  if (tt == nullptr) return;
  // Releasing a tensor can run no JS, so nothing is deferred while this loop runs.
  while (!tt->deferred.empty()) {
    uint32_t i = tt->deferred.back();
    tt->deferred.pop_back();
    release_slot(env, tt, i);
  }
}

void set_tensor_class(napi_env env, napi_value ctor) {
  if (g_tensor_ctor != nullptr) NAPI_CHECK(napi_delete_reference(env, g_tensor_ctor));
  NAPI_CHECK(napi_create_reference(env, ctor, 1, &g_tensor_ctor));
}

void forget_tensor_class() { g_tensor_ctor = nullptr; }

napi_value tensor_handle_value(napi_env env, at::Tensor t) {
  if (!t.defined()) return make_null(env);
  napi_value v;
  NAPI_CHECK(napi_create_uint32(env, new_slot(table(env), std::move(t)), &v));
  return v;
}

napi_value wrap_tensor(napi_env env, at::Tensor t) {
  if (!t.defined()) return make_null(env);
  TensorTable* tt = table(env);
  uint32_t i = new_slot(tt, std::move(t));
  napi_value h, ctor, obj;
  NAPI_CHECK(napi_create_uint32(env, i, &h));
  if (g_tensor_ctor == nullptr) return h;
  NAPI_CHECK(napi_get_reference_value(env, g_tensor_ctor, &ctor));
  napi_status st = napi_new_instance(env, ctor, 1, &h, &obj);
  if (st != napi_ok) {
    // A constructor that threw before adopting leaves the slot to no one: free it here.
    if (tt->at(i)->state == TensorHandle::State::Unowned) release_slot(env, tt, i);
    NAPI_CHECK(st);
  }
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

TensorHandle* tensor_handle_of_index(napi_env env, napi_value v) {
  uint32_t i;
  TensorHandle* h = slot_of(env, table(env), v, &i);
  return h != nullptr && h->state != TensorHandle::State::Free ? h : nullptr;
}

TensorHandle* tensor_handle(napi_env env, napi_value v) {
  return type_of(env, v) == napi_object ? handle_of_object(env, v) : nullptr;
}

const at::Tensor& unwrap_tensor(napi_env env, napi_value v, const char* what) {
  napi_valuetype t = type_of(env, v);
  TensorHandle* h = t == napi_number ? tensor_handle_of_index(env, v) : t == napi_object ? handle_of_object(env, v) : nullptr;
  if (h == nullptr) throw type_error(std::string(what) + " must be a Tensor");
  if (!h->tensor.defined()) throw JsError(JsError::Kind::Error, std::string(what) + " is a disposed Tensor");
  return h->tensor;
}

const at::Tensor& unwrap_tensor_object(napi_env env, napi_value v, const char* what, int64_t index) {
  bool is_object = type_of(env, v) == napi_object;
  TensorHandle* h = is_object ? handle_of_object(env, v) : nullptr;
  if (h != nullptr && h->tensor.defined()) return h->tensor;
  // The error path only: the name of a list element is built here, not per call.
  const std::string name = index < 0 ? what : std::string(what) + "[" + std::to_string(index) + "]";
  if (h != nullptr) throw JsError(JsError::Kind::Error, name + " is a disposed Tensor");
  throw type_error(name + " must be a Tensor" + (is_object ? "" : ", got " + describe_js(env, v)));
}

GeneratorHandle* generator_handle(napi_env env, napi_value v) {
  napi_valuetype t = type_of(env, v);
  if (t == napi_object) {
    if (napi_get_property(env, v, key(env, KEY_H), &v) != napi_ok) return nullptr;
  } else if (t != napi_external) {
    return nullptr;
  }
  void* data = nullptr;  // napi_get_value_external fails, without throwing, on a non-external
  if (napi_get_value_external(env, v, &data) != napi_ok || data == nullptr) return nullptr;
  auto* g = static_cast<GeneratorHandle*>(data);
  return g->kind == HandleKind::Generator ? g : nullptr;
}

namespace {

TESSERA_ENTRY(js_set_tensor_class) {
  auto ci = get_args(env, info, 1);
  set_tensor_class(env, ci.args.at(0));
  return make_undefined(env);
}

// adopt(tensor, h, scoped) -> bytes: the new Tensor object `tensor` takes ownership of the unowned
// slot `h`; returns the bytes it hands to the GC (0 when scoped).
// `scoped`: a scope owns it and frees it when it ends, unless it outlives every scope (then
// `reportExternal`), so its memory is not counted as waiting for the GC. V8 counts external memory
// grown since its last full collection against the old generation's limit, a few MiB of slack on a
// small JS heap: a scope's short-lived tensors, counted, started full collections with no garbage.
TESSERA_ENTRY(js_adopt) {
  napi_value argv[3];
  size_t argc = 3;
  NAPI_CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  TensorTable* tt = table(env);
  uint32_t i;
  TensorHandle* h = argc >= 2 ? slot_of(env, tt, argv[1], &i) : nullptr;
  if (h == nullptr || h->state != TensorHandle::State::Unowned)
    throw type_error("Tensor(h): h must be a new tensor handle returned by a native call");
  bool scoped = false;
  if (argc == 3) NAPI_CHECK(napi_get_value_bool(env, argv[2], &scoped));
  NAPI_CHECK(napi_add_finalizer(env, argv[0], reinterpret_cast<void*>(static_cast<uintptr_t>(i)), finalize_tensor, tt, nullptr));
  h->state = TensorHandle::State::Owned;
  return make_int64(env, scoped ? 0 : report_handle(env, h));
}

// reportExternal(h) -> bytes: a scope's tensor that outlives every scope (returned from the
// outermost, or escaped) is the GC's to free from now on, and counted as such; returns the bytes
// newly counted. Any other handle (escape() also meets Generators) has no memory to count.
TESSERA_ENTRY(js_report_external) {
  auto ci = get_args(env, info, 1);
  TensorHandle* h = tensor_handle_of_index(env, ci.args.at(0));
  return make_int64(env, h == nullptr ? 0 : report_handle(env, h));
}

// dispose(h): drops this handle's reference now instead of at GC; the slot stays with its Tensor.
TESSERA_ENTRY(js_dispose) {
  auto ci = get_args(env, info, 1);
  TensorHandle* h = tensor_handle_of_index(env, ci.args.at(0));
  if (h == nullptr) throw type_error("dispose: expected a Tensor");
  drop_tensor(env, h);
  return make_undefined(env);
}

// gcOwnedBytes() -> bytes of this thread's tensors that only the GC will free (their wrappers'
// finalizers), views and shared storages counted once.
TESSERA_ENTRY(js_gc_owned_bytes) { return make_int64(env, t_gc_owned); }

// setV8ExternalMemory(on): whether V8's external-memory count holds those bytes, from now on and
// for the tensors already alive. V8 counts external memory grown since its last full collection
// against a few MiB of old-generation slack, so with it on a training loop's outputs start a full
// collection every step or two; tessera turns it off when it starts the collections itself.
TESSERA_ENTRY(js_set_v8_external_memory) {
  auto ci = get_args(env, info, 1);
  t_tell_v8 = get_bool(env, ci.args.at(0), "on");
  tell_v8(env, true);
  return make_undefined(env);
}

TESSERA_ENTRY(js_is_disposed) {
  auto ci = get_args(env, info, 1);
  TensorHandle* h = tensor_handle_of_index(env, ci.args.at(0));
  return make_bool(env, h == nullptr || !h->tensor.defined());
}

}  // namespace

void register_handle_functions(napi_env env, napi_value exports) {
  set_function(env, exports, "setTensorClass", js_set_tensor_class);
  set_function(env, exports, "adopt", js_adopt);
  set_function(env, exports, "reportExternal", js_report_external);
  set_function(env, exports, "dispose", js_dispose);
  set_function(env, exports, "isDisposed", js_is_disposed);
  set_function(env, exports, "gcOwnedBytes", js_gc_owned_bytes);
  set_function(env, exports, "setV8ExternalMemory", js_set_v8_external_memory);
}

}  // namespace tessera
