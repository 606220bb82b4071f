// What a schema cannot express: tensors from JS memory, zero-copy views of tensor memory, and the
// attributes Python reads off a tensor object (shape, dtype, device, grad, ...).
#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/csrc/autograd/function.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "handles.h"
#include "ivalue_convert.h"
#include "ops.h"

namespace tessera {

namespace {

const at::Tensor& arg_tensor(napi_env env, const CallInfo& ci, size_t i, const char* what) {
  if (ci.args.size() <= i) throw type_error(std::string(what) + " is required");
  return unwrap_tensor(env, ci.args[i], what);
}

std::vector<int64_t> int_list(napi_env env, napi_value arr, const char* what) {
  if (!is_array(env, arr)) throw type_error(std::string(what) + " must be an array of integers");
  uint32_t n = array_length(env, arr);
  std::vector<int64_t> out(n);
  for (uint32_t i = 0; i < n; ++i) out[i] = get_int64(env, array_get(env, arr, i), what);
  return out;
}

napi_value int_array(napi_env env, c10::IntArrayRef v) {
  napi_value arr = make_array(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) NAPI_CHECK(napi_set_element(env, arr, i, make_int64(env, v[i])));
  return arr;
}

// fromBytes(bytes: ArrayBufferView, dtype, shape, device?) — copies, as torch.tensor does.
TESSERA_ENTRY(js_from_bytes) {
  auto ci = get_args(env, info, 4);
  if (ci.args.size() < 3) throw type_error("fromBytes(bytes, dtype, shape, device?)");
  bool is_typed = false;
  NAPI_CHECK(napi_is_typedarray(env, ci.args[0], &is_typed));
  void* data = nullptr;
  size_t byte_len = 0;
  if (is_typed) {
    napi_typedarray_type tt;
    size_t len, offset;
    napi_value ab;
    NAPI_CHECK(napi_get_typedarray_info(env, ci.args[0], &tt, &len, &data, &ab, &offset));
    size_t elem = 1;
    switch (tt) {
      case napi_int16_array: case napi_uint16_array: elem = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
      default: elem = 1;
    }
    byte_len = len * elem;
  } else {
    bool is_ab = false;
    NAPI_CHECK(napi_is_arraybuffer(env, ci.args[0], &is_ab));
    if (!is_ab) throw type_error("fromBytes: bytes must be a TypedArray or ArrayBuffer");
    NAPI_CHECK(napi_get_arraybuffer_info(env, ci.args[0], &data, &byte_len));
  }
  at::ScalarType dtype = to_scalar_type(env, ci.args[1], "dtype");
  std::vector<int64_t> shape = int_list(env, ci.args[2], "shape");
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
  if (static_cast<size_t>(t.nbytes()) != byte_len)
    throw JsError(JsError::Kind::RangeError, "fromBytes: " + std::to_string(byte_len) + " bytes given for a tensor of " +
                                                 std::to_string(t.nbytes()) + " bytes");
  if (byte_len) std::memcpy(t.data_ptr(), data, byte_len);
  if (ci.args.size() > 3 && type_of(env, ci.args[3]) != napi_undefined && type_of(env, ci.args[3]) != napi_null) {
    c10::Device d = to_device(env, ci.args[3], "device");
    if (d != t.device()) t = t.to(d);
  }
  return wrap_tensor(env, std::move(t));
}

void finalize_view(node_api_basic_env, void*, void* hint) { delete static_cast<c10::Storage*>(hint); }

// bytesView(t, pin) — an ArrayBuffer over a contiguous CPU tensor's memory (no copy); it holds the
// tensor's storage itself, not the tensor, so t.set_(x), t.data = x or module.to(dtype), which give
// the tensor another storage, leave the buffer's memory alive and valid (as Python's numpy() does). With `pin`, for a view that outlives the call, the storage also stops
// being resizable (as after Python's numpy()), since growing it would move the memory out from
// under the buffer. Anything else is copied to a contiguous CPU tensor first.
TESSERA_ENTRY(js_bytes_view) {
  auto ci = get_args(env, info, 2);
  at::Tensor t = arg_tensor(env, ci, 0, "tensor");
  check_storage(t, "tensor");
  if (!t.device().is_cpu() || !t.is_contiguous() || t.is_conj() || t.is_neg()) t = t.cpu().contiguous().resolve_conj().resolve_neg();
  auto keep = std::make_unique<c10::Storage>(t.storage());
  napi_value ab;
  size_t n = t.nbytes();
  if (n == 0) {
    void* unused;
    NAPI_CHECK(napi_create_arraybuffer(env, 0, &unused, &ab));
    return ab;
  }
  NAPI_CHECK(napi_create_external_arraybuffer(env, t.data_ptr(), n, finalize_view, keep.get(), &ab));
  keep.release();
  if (ci.args.size() > 1 && get_bool(env, ci.args[1], "pin")) t.storage().unsafeGetStorageImpl()->set_resizable(false);
  return ab;
}

// storageView(base, offset, nbytes) — a uint8 tensor of nbytes over base's memory from byte `offset`,
// in a storage of its own (offset 0, not resizable) that keeps base's storage alive. Python's
// safetensors hands out the tensors of a mapped file this way (slices of an UntypedStorage), so that
// an operation on one tensor's storage (resize, set_, a freed ZeRO unit) never reaches the others.
TESSERA_ENTRY(js_storage_view) {
  auto ci = get_args(env, info, 3);
  const at::Tensor& base = arg_tensor(env, ci, 0, "base");
  check_storage(base, "base");
  if (!base.device().is_cpu()) throw type_error("storageView: base must be a CPU tensor");
  const int64_t offset = get_int64(env, ci.args.at(1), "offset");
  const int64_t nbytes = get_int64(env, ci.args.at(2), "nbytes");
  const c10::Storage& storage = base.storage();
  if (offset < 0 || nbytes < 0 || offset > static_cast<int64_t>(storage.nbytes()) - nbytes)
    throw JsError(JsError::Kind::RangeError, "storageView: bytes [" + std::to_string(offset) + ", " + std::to_string(offset + nbytes) +
                                                 ") are outside a storage of " + std::to_string(storage.nbytes()) + " bytes");
  auto keep = std::make_unique<c10::Storage>(storage);
  char* data = static_cast<char*>(keep->mutable_data()) + offset;
  c10::DataPtr ptr(data, keep.get(), [](void* ctx) { delete static_cast<c10::Storage*>(ctx); }, base.device());
  keep.release();  // owned by ptr's context from here on
  c10::Storage own(c10::Storage::use_byte_size_t(), nbytes, std::move(ptr), nullptr, /*resizable=*/false);
  at::Tensor t = at::empty({0}, at::TensorOptions().dtype(at::kByte));
  t.set_(own, 0, {nbytes}, {1});
  return wrap_tensor(env, std::move(t));
}

// bytesCopy(t) — a plain ArrayBuffer holding a copy of the tensor's elements (contiguous, CPU), for
// a read that ends with the call (tolist). Unlike bytesView's external buffer, it holds no tensor:
// node runs an external buffer's finalizer only from the event loop, so a synchronous loop that
// read one view per step kept every step's tensor alive.
TESSERA_ENTRY(js_bytes_copy) {
  auto ci = get_args(env, info, 1);
  at::Tensor t = arg_tensor(env, ci, 0, "tensor");
  check_storage(t, "tensor");
  if (!t.device().is_cpu() || !t.is_contiguous() || t.is_conj() || t.is_neg()) t = t.cpu().contiguous().resolve_conj().resolve_neg();
  const size_t n = t.nbytes();
  void* data = nullptr;
  napi_value ab;
  NAPI_CHECK(napi_create_arraybuffer(env, n, &data, &ab));
  if (n != 0) std::memcpy(data, t.data_ptr(), n);
  return ab;
}

// One-tensor attribute readers, `(t) -> value`: what Python reads off a tensor object.
using Reader = napi_value (*)(napi_env, const at::Tensor&);

template <Reader read>
napi_value tensor_reader(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto ci = get_args(env, info, 1);
    return read(env, arg_tensor(env, ci, 0, "tensor"));
  });
}

napi_value read_shape(napi_env env, const at::Tensor& t) { return int_array(env, t.sizes()); }
napi_value read_strides(napi_env env, const at::Tensor& t) { return int_array(env, t.strides()); }
napi_value read_dtype(napi_env env, const at::Tensor& t) { return make_int64(env, static_cast<int64_t>(t.scalar_type())); }
napi_value read_device(napi_env env, const at::Tensor& t) { return make_string(env, t.device().str()); }
napi_value read_dim(napi_env env, const at::Tensor& t) { return make_int64(env, t.dim()); }
napi_value read_numel(napi_env env, const at::Tensor& t) { return make_int64(env, t.numel()); }
napi_value read_storageOffset(napi_env env, const at::Tensor& t) { return make_int64(env, t.storage_offset()); }
napi_value read_isContiguous(napi_env env, const at::Tensor& t) { return make_bool(env, t.is_contiguous()); }
napi_value read_requiresGrad(napi_env env, const at::Tensor& t) { return make_bool(env, t.requires_grad()); }
napi_value read_grad(napi_env env, const at::Tensor& t) { return tensor_handle_value(env, t.grad()); }
napi_value read_isLeaf(napi_env env, const at::Tensor& t) { return make_bool(env, t.is_leaf()); }
// `.data`: the same storage and layout without autograd history.
napi_value read_data(napi_env env, const at::Tensor& t) { return tensor_handle_value(env, t.variable_data()); }

// storageInfo(t) -> [key, nbytes]: an identity for the storage (shared by views) and its size,
// so that torch.save can write storage-sharing tensors once, as PyTorch does.
TESSERA_ENTRY(js_storage_info) {
  auto ci = get_args(env, info, 1);
  const at::Tensor& t = arg_tensor(env, ci, 0, "tensor");
  napi_value arr = make_array(env, 2);
  auto id = reinterpret_cast<uintptr_t>(t.storage().unsafeGetStorageImpl());
  NAPI_CHECK(napi_set_element(env, arr, 0, make_string(env, std::to_string(id))));
  NAPI_CHECK(napi_set_element(env, arr, 1, make_int64(env, static_cast<int64_t>(t.storage().nbytes()))));
  return arr;
}

// resizeStorage(t, nbytes): resizes t's storage in place, as PyTorch's
// torch.ops.inductor.resize_storage_bytes_ (what FSDP uses to free gathered parameters while
// autograd still holds views of them, and to refill them later). Every tensor sharing the storage
// sees it. 0 frees the memory; a new size gets fresh memory from the storage's own allocator (so
// CUDA storages stay on their device), keeping the first min(old, new) bytes, as
// at::native::resize_bytes_cpu does. As in PyTorch, no op checks a view against its storage's size:
// reading a freed storage before regrowing it is the caller's bug (libtorch reads invalid memory).
// V8's external-memory count is left alone: each handle reports the bytes it saw when wrapped and
// takes back exactly that when freed (handles.cc), so a resize leaves the count stale (an estimate
// until those handles die) but never unbalanced.
TESSERA_ENTRY(js_resize_storage) {
  auto ci = get_args(env, info, 2);
  const at::Tensor& t = arg_tensor(env, ci, 0, "tensor");
  if (ci.args.size() < 2) throw type_error("resizeStorage(tensor, nbytes): nbytes is required");
  int64_t nbytes = get_int64(env, ci.args[1], "nbytes");
  if (nbytes < 0) throw JsError(JsError::Kind::RangeError, "resizeStorage: nbytes must be >= 0, got " + std::to_string(nbytes));
  if (!t.has_storage()) throw type_error("resizeStorage: this tensor has no storage");
  c10::StorageImpl* storage = t.storage().unsafeGetStorageImpl();
  if (!storage->resizable())
    throw JsError(JsError::Kind::Error,
                  "resizeStorage: the tensor's storage is not resizable (a typed_array() view shares its memory, or it wraps memory libtorch "
                  "did not allocate)");
  c10::Allocator* allocator = storage->allocator();
  if (allocator == nullptr) throw JsError(JsError::Kind::Error, "resizeStorage: the tensor's storage has no allocator");
  const auto size = static_cast<size_t>(nbytes);
  // Allocators such as CUDA's allocate on the current device: make that the tensor's. Even 0 bytes
  // go through the allocator, so the empty DataPtr still names the device for a later regrowth.
  c10::OptionalDeviceGuard guard(t.device());
  at::DataPtr fresh = allocator->allocate(size);
  const size_t keep = std::min(size, storage->nbytes());
  const void* old = storage->data();
  if (keep > 0 && old != nullptr) allocator->copy_data(fresh.get(), old, keep);
  storage->set_data_ptr_noswap(std::move(fresh));
  storage->set_nbytes(size);
  return make_undefined(env);
}

TESSERA_ENTRY(js_set_requires_grad) {
  auto ci = get_args(env, info, 2);
  at::Tensor t = arg_tensor(env, ci, 0, "tensor");
  t.set_requires_grad(get_bool(env, ci.args.at(1), "requires_grad"));
  return make_undefined(env);
}

TESSERA_ENTRY(js_set_grad) {
  auto ci = get_args(env, info, 2);
  at::Tensor t = arg_tensor(env, ci, 0, "tensor");
  napi_valuetype vt = type_of(env, ci.args.at(1));
  if (vt == napi_null || vt == napi_undefined) t.mutable_grad().reset();
  else t.mutable_grad() = unwrap_tensor(env, ci.args[1], "grad");
  return make_undefined(env);
}

TESSERA_ENTRY(js_grad_fn_name) {
  auto ci = get_args(env, info, 1);
  const auto& fn = arg_tensor(env, ci, 0, "tensor").grad_fn();
  return fn ? make_string(env, fn->name()) : make_null(env);
}

TESSERA_ENTRY(js_retain_grad) {
  auto ci = get_args(env, info, 1);
  arg_tensor(env, ci, 0, "tensor").retain_grad();
  return make_undefined(env);
}

TESSERA_ENTRY(js_item) {
  auto ci = get_args(env, info, 1);
  const at::Tensor& t = arg_tensor(env, ci, 0, "tensor");
  check_storage(t, "item()");
  if (t.numel() != 1)
    throw JsError(JsError::Kind::RangeError, "a Tensor with " + std::to_string(t.numel()) + " elements cannot be converted to Scalar");
  at::Scalar s = t.item();
  if (s.isBoolean()) return make_bool(env, s.toBool());
  if (s.isIntegral(false)) return make_int64(env, s.toLong());
  return make_double(env, s.toDouble());
}

// setData(t, other): `t.data = other`, keeping t's identity (used by Module.to and optimizers).
TESSERA_ENTRY(js_set_data) {
  auto ci = get_args(env, info, 2);
  at::Tensor t = arg_tensor(env, ci, 0, "tensor");
  t.set_data(arg_tensor(env, ci, 1, "data"));
  return make_undefined(env);
}

TESSERA_ENTRY(js_same_tensor) {
  auto ci = get_args(env, info, 2);
  return make_bool(env, arg_tensor(env, ci, 0, "a").is_same(arg_tensor(env, ci, 1, "b")));
}

}  // namespace

// readInto(tensor, fd, position) -> bytes read: fills a contiguous CPU tensor from an open file with
// pread, with no JS view of its memory (such a view keeps the tensor alive until V8 collects it, so
// a loader reading a checkpoint tensor by tensor would hold all of them until a GC).
TESSERA_ENTRY(js_read_into) {
  auto ci = get_args(env, info, 3);
  const at::Tensor& t = arg_tensor(env, ci, 0, "tensor");
  if (!t.device().is_cpu() || !t.is_contiguous()) throw type_error("readInto: tensor must be a contiguous CPU tensor");
  int64_t fd = get_int64(env, ci.args.at(1), "fd");
  int64_t position = get_int64(env, ci.args.at(2), "position");
  if (fd < 0 || position < 0) throw JsError(JsError::Kind::RangeError, "readInto: fd and position must be non-negative");
  auto* dst = static_cast<char*>(t.data_ptr());
  const size_t want = t.nbytes();
  size_t got = 0;
  while (got < want) {
    ssize_t r = pread(static_cast<int>(fd), dst + got, want - got, static_cast<off_t>(position + static_cast<int64_t>(got)));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw JsError(JsError::Kind::Error, std::string("readInto: ") + std::strerror(errno));
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return make_int64(env, static_cast<int64_t>(got));
}

void register_tensor_functions(napi_env env, napi_value exports) {
  set_function(env, exports, "fromBytes", js_from_bytes);
  set_function(env, exports, "bytesView", js_bytes_view);
  set_function(env, exports, "bytesCopy", js_bytes_copy);
  set_function(env, exports, "storageView", js_storage_view);
  set_function(env, exports, "shape", tensor_reader<read_shape>);
  set_function(env, exports, "strides", tensor_reader<read_strides>);
  set_function(env, exports, "dtype", tensor_reader<read_dtype>);
  set_function(env, exports, "device", tensor_reader<read_device>);
  set_function(env, exports, "dim", tensor_reader<read_dim>);
  set_function(env, exports, "numel", tensor_reader<read_numel>);
  set_function(env, exports, "storageOffset", tensor_reader<read_storageOffset>);
  set_function(env, exports, "isContiguous", tensor_reader<read_isContiguous>);
  set_function(env, exports, "requiresGrad", tensor_reader<read_requiresGrad>);
  set_function(env, exports, "grad", tensor_reader<read_grad>);
  set_function(env, exports, "isLeaf", tensor_reader<read_isLeaf>);
  set_function(env, exports, "data", tensor_reader<read_data>);
  set_function(env, exports, "storageInfo", js_storage_info);
  set_function(env, exports, "readInto", js_read_into);
  set_function(env, exports, "resizeStorage", js_resize_storage);
  set_function(env, exports, "setRequiresGrad", js_set_requires_grad);
  set_function(env, exports, "setGrad", js_set_grad);
  set_function(env, exports, "gradFnName", js_grad_fn_name);
  set_function(env, exports, "retainGrad", js_retain_grad);
  set_function(env, exports, "item", js_item);
  set_function(env, exports, "setData", js_set_data);
  set_function(env, exports, "sameTensor", js_same_tensor);
}

}  // namespace tessera
