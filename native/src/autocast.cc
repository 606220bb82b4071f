// Autocast state, as torch/amp/autocast_mode.py reaches it through torch._C: per-device-type
// enabled flag and lower-precision dtype, the nesting counter, and the cast cache. The TS scope in
// src/torch/amp/autocast_mode.ts saves, sets and restores these around a callback.
#include <ATen/autocast_mode.h>

#include "ivalue_convert.h"
#include "ops.h"

namespace tessera {

namespace {

c10::DeviceType device_type(napi_env env, const CallInfo& ci) {
  if (ci.args.empty()) throw type_error("device_type is required");
  std::string s = get_string(env, ci.args[0], "device_type");
  c10::DeviceType t;
  try {
    t = c10::Device(s).type();
  } catch (const c10::Error&) {
    throw JsError(JsError::Kind::RangeError, "unknown device_type '" + s + "'");
  }
  if (!at::autocast::is_autocast_available(t))
    throw JsError(JsError::Kind::RangeError, "autocast is not available for device_type '" + s + "'");
  return t;
}

TESSERA_ENTRY(js_is_enabled) {
  auto ci = get_args(env, info, 1);
  return make_bool(env, at::autocast::is_autocast_enabled(device_type(env, ci)));
}

TESSERA_ENTRY(js_set_enabled) {
  auto ci = get_args(env, info, 2);
  c10::DeviceType t = device_type(env, ci);
  at::autocast::set_autocast_enabled(t, get_bool(env, ci.args.at(1), "enabled"));
  return make_undefined(env);
}

TESSERA_ENTRY(js_get_dtype) {
  auto ci = get_args(env, info, 1);
  return make_int64(env, static_cast<int64_t>(at::autocast::get_autocast_dtype(device_type(env, ci))));
}

TESSERA_ENTRY(js_set_dtype) {
  auto ci = get_args(env, info, 2);
  c10::DeviceType t = device_type(env, ci);
  at::autocast::set_autocast_dtype(t, to_scalar_type(env, ci.args.at(1), "dtype"));
  return make_undefined(env);
}

TESSERA_ENTRY(js_increment_nesting) { return make_int64(env, at::autocast::increment_nesting()); }

TESSERA_ENTRY(js_decrement_nesting) { return make_int64(env, at::autocast::decrement_nesting()); }

TESSERA_ENTRY(js_clear_cache) {
  at::autocast::clear_cache();
  return make_undefined(env);
}

TESSERA_ENTRY(js_is_cache_enabled) { return make_bool(env, at::autocast::is_autocast_cache_enabled()); }

TESSERA_ENTRY(js_set_cache_enabled) {
  auto ci = get_args(env, info, 1);
  at::autocast::set_autocast_cache_enabled(get_bool(env, ci.args.at(0), "enabled"));
  return make_undefined(env);
}

}  // namespace

void register_autocast_functions(napi_env env, napi_value exports) {
  set_function(env, exports, "autocastIsEnabled", js_is_enabled);
  set_function(env, exports, "autocastSetEnabled", js_set_enabled);
  set_function(env, exports, "autocastGetDtype", js_get_dtype);
  set_function(env, exports, "autocastSetDtype", js_set_dtype);
  set_function(env, exports, "autocastIncrementNesting", js_increment_nesting);
  set_function(env, exports, "autocastDecrementNesting", js_decrement_nesting);
  set_function(env, exports, "autocastClearCache", js_clear_cache);
  set_function(env, exports, "autocastIsCacheEnabled", js_is_cache_enabled);
  set_function(env, exports, "autocastSetCacheEnabled", js_set_cache_enabled);
}

}  // namespace tessera
