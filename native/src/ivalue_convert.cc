#include "ivalue_convert.h"

#include <ATen/ATen.h>
#include <ATen/ScalarOps.h>

#include <cmath>
#include <sstream>

#include "handles.h"

namespace tessera {

namespace {

bool parse_base(const c10::TypePtr& t, Base* out) {
  switch (t->kind()) {
    case c10::TypeKind::TensorType: *out = Base::Tensor; return true;
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: *out = Base::Int; return true;
    case c10::TypeKind::FloatType:
    case c10::TypeKind::SymFloatType: *out = Base::Float; return true;
    case c10::TypeKind::BoolType:
    case c10::TypeKind::SymBoolType: *out = Base::Bool; return true;
    case c10::TypeKind::StringType: *out = Base::Str; return true;
    case c10::TypeKind::NumberType: *out = Base::Scalar; return true;
    case c10::TypeKind::ScalarTypeType: *out = Base::ScalarType; return true;
    case c10::TypeKind::DeviceObjType: *out = Base::Device; return true;
    case c10::TypeKind::LayoutType: *out = Base::Layout; return true;
    case c10::TypeKind::MemoryFormatType: *out = Base::MemoryFormat; return true;
    case c10::TypeKind::GeneratorType: *out = Base::Generator; return true;
    default: return false;
  }
}

bool is_tensor_value(napi_env env, napi_value v) { return tensor_handle(env, v) != nullptr; }

bool is_integral_number(napi_env env, const JsValue& v) {
  if (v.type == napi_bigint) return true;
  if (v.type != napi_number) return false;
  double d;
  NAPI_CHECK(napi_get_value_double(env, v.v, &d));
  return std::isfinite(d) && std::floor(d) == d;
}

bool has_property(napi_env env, napi_value obj, int k) {
  bool has = false;
  NAPI_CHECK(napi_has_property(env, obj, key(env, k), &has));
  return has;
}

bool scalar_matches(napi_env env, const JsValue& v, Base b, Match mode) {
  napi_valuetype t = v.type;
  switch (b) {
    case Base::Tensor:
      if (v.tensor != nullptr) return true;
      return mode == Match::NumbersAsTensors && (t == napi_number || t == napi_boolean || t == napi_bigint);
    case Base::Int: return is_integral_number(env, v);
    case Base::Float: return t == napi_number;
    case Base::Bool: return t == napi_boolean;
    case Base::Str: return t == napi_string;
    case Base::Scalar: return t == napi_number || t == napi_boolean || t == napi_bigint;
    case Base::ScalarType:
    case Base::Layout:
    case Base::MemoryFormat: return t == napi_number || (t == napi_object && has_property(env, v.v, KEY_ID));
    case Base::Device: return t == napi_string || (t == napi_object && has_property(env, v.v, KEY_TYPE));
    case Base::Generator: return generator_handle(env, v.v) != nullptr;
  }
  return false;
}

int64_t enum_id(napi_env env, napi_value v, const std::string& what) {
  if (type_of(env, v) == napi_object) {
    napi_value id;
    NAPI_CHECK(napi_get_property(env, v, key(env, KEY_ID), &id));
    v = id;
  }
  return get_int64(env, v, what.c_str());
}

at::Tensor number_as_tensor(napi_env env, napi_value v, const std::string& what) {
  at::Tensor t = at::scalar_to_tensor(to_scalar(env, v, what));
  t.unsafeGetTensorImpl()->set_wrapped_number(true);  // promotes like a Python number, not a 0-d tensor
  return t;
}

at::Tensor to_tensor(napi_env env, const JsValue& v, const std::string& what) { return *tensor_arg(env, v, what); }

c10::IValue scalar_to_ivalue(napi_env env, const JsValue& jv, Base b, const std::string& what) {
  napi_value v = jv.v;
  switch (b) {
    case Base::Tensor: return to_tensor(env, jv, what);
    case Base::Int: return get_int64(env, v, what.c_str());
    case Base::Float: return get_double(env, v, what.c_str());
    case Base::Bool: return get_bool(env, v, what.c_str());
    case Base::Str: return get_string(env, v, what.c_str());
    case Base::Scalar: return to_scalar(env, v, what);
    case Base::ScalarType: return to_scalar_type(env, v, what);
    case Base::Layout: return static_cast<at::Layout>(enum_id(env, v, what));
    case Base::MemoryFormat: return static_cast<at::MemoryFormat>(enum_id(env, v, what));
    case Base::Device: return to_device(env, v, what);
    case Base::Generator: {
      GeneratorHandle* g = generator_handle(env, v);
      if (g == nullptr) throw type_error(what + " must be a torch.Generator, got " + describe_js(env, v));
      return g->generator;
    }
  }
  throw type_error(what + ": unsupported argument type");
}

template <typename T, typename F>
c10::IValue list_of(napi_env env, napi_value v, const ArgType& t, const std::string& what, F&& elem) {
  c10::List<T> out;
  if (!is_array(env, v)) {  // a single value stands for a list of N copies (or of one)
    T x = elem(inspect(env, v), what);
    int64_t n = t.fixed_size > 0 ? t.fixed_size : 1;
    for (int64_t i = 0; i < n; ++i) out.push_back(x);
    return out;
  }
  uint32_t n = array_length(env, v);
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    try {
      out.push_back(elem(inspect(env, array_get(env, v, i)), what));
    } catch (const JsError& e) {
      rethrow_renamed(e, what.size(), what + "[" + std::to_string(i) + "]");
    }
  }
  return out;
}

}  // namespace

c10::MaybeOwned<at::Tensor> tensor_arg(napi_env env, const JsValue& v, const std::string& what) {
  if (TensorHandle* h = v.tensor) {
    if (!h->tensor.defined()) throw JsError(JsError::Kind::Error, what + " is a disposed Tensor");
    check_storage(h->tensor, what);
    return c10::MaybeOwned<at::Tensor>::borrowed(h->tensor);
  }
  if (v.type == napi_number || v.type == napi_boolean || v.type == napi_bigint)
    return c10::MaybeOwned<at::Tensor>::owned(number_as_tensor(env, v.v, what));
  throw type_error(what + " must be a Tensor, got " + describe_js(env, v));
}

bool parse_arg_type(const c10::Argument& arg, ArgType* out) {
  c10::TypePtr t = arg.real_type();
  if (t->kind() == c10::TypeKind::OptionalType) {
    out->optional = true;
    t = t->castRaw<c10::OptionalType>()->getElementType();
  }
  if (t->kind() == c10::TypeKind::ListType) {
    out->list = true;
    out->fixed_size = arg.N().has_value() ? static_cast<int64_t>(*arg.N()) : -1;
    t = t->castRaw<c10::ListType>()->getElementType();
    if (t->kind() == c10::TypeKind::OptionalType) {
      out->elem_optional = true;
      t = t->castRaw<c10::OptionalType>()->getElementType();
    }
  }
  if (!parse_base(t, &out->base)) return false;
  // Named-tensor overloads (Dimname) parse as strings; tessera does not expose named tensors.
  return arg.type()->str().find("Dimname") == std::string::npos;
}

JsValue inspect(napi_env env, napi_value v) {
  JsValue out{v, type_of(env, v), nullptr};
  if (out.type == napi_object) out.tensor = tensor_handle(env, v);
  return out;
}

bool value_matches(napi_env env, const JsValue& jv, const ArgType& t, Match mode) {
  napi_valuetype vt = jv.type;
  if (vt == napi_undefined || vt == napi_null) return t.optional;
  if (!t.list) return scalar_matches(env, jv, t.base, mode);
  napi_value v = jv.v;
  if (vt != napi_object || jv.tensor != nullptr || !is_array(env, v)) {
    // int[] accepts a single int (sum(dim=1)); other lists need an array.
    return (t.base == Base::Int || t.base == Base::Float) && scalar_matches(env, jv, t.base, mode);
  }
  uint32_t n = array_length(env, v);
  for (uint32_t i = 0; i < n; ++i) {
    JsValue e = inspect(env, array_get(env, v, i));
    if ((e.type == napi_null || e.type == napi_undefined) && t.elem_optional) continue;
    if (!scalar_matches(env, e, t.base, mode)) return false;
  }
  return true;
}

c10::IValue to_ivalue(napi_env env, const JsValue& jv, const ArgType& t, const std::string& what) {
  napi_valuetype vt = jv.type;
  if (vt == napi_undefined || vt == napi_null) {
    if (t.optional) return c10::IValue();
    throw type_error(what + " is required");
  }
  if (!t.list) return scalar_to_ivalue(env, jv, t.base, what);
  napi_value v = jv.v;
  auto elem = [&](Base b) {
    return [env, b](const JsValue& e, const std::string& w) { return scalar_to_ivalue(env, e, b, w); };
  };
  switch (t.base) {
    case Base::Int:
      return list_of<int64_t>(env, v, t, what, [env](const JsValue& e, const std::string& w) { return get_int64(env, e.v, w.c_str()); });
    case Base::Float:
      return list_of<double>(env, v, t, what, [env](const JsValue& e, const std::string& w) { return get_double(env, e.v, w.c_str()); });
    case Base::Bool:
      return list_of<bool>(env, v, t, what, [env](const JsValue& e, const std::string& w) { return get_bool(env, e.v, w.c_str()); });
    case Base::Scalar:
      return list_of<at::Scalar>(env, v, t, what, [env](const JsValue& e, const std::string& w) { return to_scalar(env, e.v, w); });
    case Base::Tensor:
      if (t.elem_optional) {
        return list_of<std::optional<at::Tensor>>(env, v, t, what, [env](const JsValue& e, const std::string& w) {
          if (e.type == napi_null || e.type == napi_undefined) return std::optional<at::Tensor>();
          return std::optional<at::Tensor>(to_tensor(env, e, w));
        });
      }
      return list_of<at::Tensor>(env, v, t, what, [env](const JsValue& e, const std::string& w) { return to_tensor(env, e, w); });
    default: {
      c10::impl::GenericList out(c10::AnyType::get());
      uint32_t n = array_length(env, v);
      auto conv = elem(t.base);
      for (uint32_t i = 0; i < n; ++i) {
        try {
          out.push_back(conv(inspect(env, array_get(env, v, i)), what));
        } catch (const JsError& e) {
          rethrow_renamed(e, what.size(), what + "[" + std::to_string(i) + "]");
        }
      }
      return out;
    }
  }
}

napi_value from_ivalue(napi_env env, const c10::IValue& v) {
  if (v.isTensor()) return wrap_tensor(env, v.toTensor());
  if (v.isNone()) return make_null(env);
  if (v.isInt()) return make_int64(env, v.toInt());
  if (v.isDouble()) return make_double(env, v.toDouble());
  if (v.isBool()) return make_bool(env, v.toBool());
  if (v.isString()) return make_string(env, v.toStringRef());
  if (v.isSymInt()) return make_int64(env, v.toSymInt().guard_int(__FILE__, __LINE__));
  if (v.isSymFloat()) return make_double(env, v.toSymFloat().guard_float(__FILE__, __LINE__));
  if (v.isScalar()) {
    at::Scalar s = v.toScalar();
    if (s.isBoolean()) return make_bool(env, s.toBool());
    if (s.isIntegral(false)) return make_int64(env, s.toLong());
    return make_double(env, s.toDouble());
  }
  if (v.isDevice()) return make_string(env, v.toDevice().str());
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    napi_value arr = make_array(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) NAPI_CHECK(napi_set_element(env, arr, i, wrap_tensor(env, list.get(i))));
    return arr;
  }
  if (v.isList()) {
    auto list = v.toListRef();
    napi_value arr = make_array(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) NAPI_CHECK(napi_set_element(env, arr, i, from_ivalue(env, list[i])));
    return arr;
  }
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    napi_value arr = make_array(env, elems.size());
    for (size_t i = 0; i < elems.size(); ++i) NAPI_CHECK(napi_set_element(env, arr, i, from_ivalue(env, elems[i])));
    return arr;
  }
  throw JsError(JsError::Kind::Error, std::string("cannot convert an op result of type ") + v.tagKind() + " to JS");
}

std::string describe_js(napi_env env, const JsValue& v) { return v.tensor != nullptr ? "Tensor" : describe_js(env, v.v); }

std::string describe_js(napi_env env, napi_value v) {
  switch (type_of(env, v)) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return is_integral_number(env, JsValue{v, napi_number, nullptr}) ? "int" : "float";
    case napi_bigint: return "bigint";
    case napi_string: return "string";
    case napi_function: return "function";
    case napi_external:  // generators cross as their raw handles
      return generator_handle(env, v) != nullptr ? "Generator" : "external";
    default:
      if (is_tensor_value(env, v)) return "Tensor";
      if (is_array(env, v)) {
        uint32_t n = array_length(env, v);
        return n == 0 ? "[]" : describe_js(env, array_get(env, v, 0)) + "[]";
      }
      return "object";
  }
}

at::ScalarType to_scalar_type(napi_env env, napi_value v, const std::string& what) {
  if (!scalar_matches(env, inspect(env, v), Base::ScalarType, Match::Exact))
    throw type_error(what + " must be a torch.dtype, got " + describe_js(env, v));
  int64_t id = enum_id(env, v, what);
  if (id < 0 || id >= static_cast<int64_t>(at::ScalarType::NumOptions))
    throw JsError(JsError::Kind::RangeError, what + ": invalid dtype id " + std::to_string(id));
  return static_cast<at::ScalarType>(id);
}

c10::Device to_device(napi_env env, napi_value v, const std::string& what) {
  napi_valuetype t = type_of(env, v);
  if (t == napi_string) return c10::Device(get_string(env, v, what.c_str()));
  if (t == napi_object) {
    napi_value type, index;
    NAPI_CHECK(napi_get_property(env, v, key(env, KEY_TYPE), &type));
    NAPI_CHECK(napi_get_property(env, v, key(env, KEY_INDEX), &index));
    c10::Device d(get_string(env, type, (what + ".type").c_str()));
    napi_valuetype it = type_of(env, index);
    if (it != napi_null && it != napi_undefined) d.set_index(static_cast<c10::DeviceIndex>(get_int64(env, index, what.c_str())));
    return d;
  }
  throw type_error(what + " must be a device string or torch.device, got " + describe_js(env, v));
}

at::Scalar to_scalar(napi_env env, napi_value v, const std::string& what) {
  switch (type_of(env, v)) {
    case napi_boolean: return at::Scalar(get_bool(env, v, what.c_str()));
    case napi_bigint: return at::Scalar(get_int64(env, v, what.c_str()));
    case napi_number: {
      double d = get_double(env, v, what.c_str());
      // An integral JS number is a Python int: it keeps integer tensors integer.
      if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.007199254740992e15) return at::Scalar(static_cast<int64_t>(d));
      return at::Scalar(d);
    }
    default:
      if (TensorHandle* h = tensor_handle(env, v)) {
        if (h->tensor.defined() && h->tensor.numel() == 1) return h->tensor.item();
      }
      throw type_error(what + " must be a number, got " + describe_js(env, v));
  }
}

}  // namespace tessera
