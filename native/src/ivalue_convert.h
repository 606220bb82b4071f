// JS value <-> c10::IValue conversion, driven by an op schema's argument types.
#pragma once

#include <ATen/core/ivalue.h>
#include <ATen/core/function_schema.h>
#include <ATen/core/Tensor.h>
#include <c10/util/MaybeOwned.h>

#include "napi_util.h"

namespace tessera {

// The argument types a JS caller can supply. An overload that uses any other type is not exposed.
enum class Base : uint8_t { Tensor, Int, Float, Bool, Str, Scalar, ScalarType, Device, Layout, MemoryFormat, Generator };

struct ArgType {
  Base base = Base::Tensor;
  bool optional = false;       // T?
  bool list = false;           // T[] (also T[N])
  bool elem_optional = false;  // T?[]
  int64_t fixed_size = -1;     // N of T[N]: a single value is repeated N times, as Python does
};

// Parses a schema argument's type; returns false when tessera cannot pass it from JS.
bool parse_arg_type(const c10::Argument& arg, ArgType* out);

// How strictly a JS value is matched against a type when choosing between overloads.
enum class Match { Exact, NumbersAsTensors };

struct TensorHandle;

// A JS argument inspected once per call: overload matching and conversion then need no further
// Node-API calls to learn its type or find its tensor.
struct JsValue {
  napi_value v = nullptr;  // nullptr: no value bound
  napi_valuetype type = napi_undefined;
  TensorHandle* tensor = nullptr;  // set when v is a Tensor (or a tensor handle passed as one)
};

JsValue inspect(napi_env env, napi_value v);

bool value_matches(napi_env env, const JsValue& v, const ArgType& t, Match mode);

// Converts `v` (already checked with value_matches, or to be checked now) into an IValue.
// `what` names the argument in error messages.
c10::IValue to_ivalue(napi_env env, const JsValue& v, const ArgType& t, const std::string& what);

// A tensor argument: borrowed from its JS handle, or made from a number (`x.add(1)`).
c10::MaybeOwned<at::Tensor> tensor_arg(napi_env env, const JsValue& v, const std::string& what);

// Converts an op output to JS (tensors become Tensor objects).
napi_value from_ivalue(napi_env env, const c10::IValue& v);

// Short description of a JS value's type for error messages ("Tensor", "number", "string", ...).
std::string describe_js(napi_env env, napi_value v);
std::string describe_js(napi_env env, const JsValue& v);

at::ScalarType to_scalar_type(napi_env env, napi_value v, const std::string& what);
c10::Device to_device(napi_env env, napi_value v, const std::string& what);
at::Scalar to_scalar(napi_env env, napi_value v, const std::string& what);

}  // namespace tessera
