#include "napi_util.h"

#include <c10/util/Exception.h>

#include <cmath>

namespace tessera {

CallInfo get_args(napi_env env, napi_callback_info info, size_t max_args) {
  CallInfo ci;
  size_t argc = max_args;
  ci.args.resize(max_args);
  NAPI_CHECK(napi_get_cb_info(env, info, &argc, ci.args.data(), &ci.self, nullptr));
  ci.args.resize(std::min(argc, max_args));
  return ci;
}

napi_valuetype type_of(napi_env env, napi_value v) {
  napi_valuetype t;
  NAPI_CHECK(napi_typeof(env, v, &t));
  return t;
}

bool is_array(napi_env env, napi_value v) {
  bool r = false;
  NAPI_CHECK(napi_is_array(env, v, &r));
  return r;
}

double get_double(napi_env env, napi_value v, const char* what) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) throw type_error(std::string(what) + " must be a number");
  return d;
}

int64_t get_int64(napi_env env, napi_value v, const char* what) {
  napi_valuetype t = type_of(env, v);
  if (t == napi_bigint) {
    int64_t r;
    bool lossless;
    NAPI_CHECK(napi_get_value_bigint_int64(env, v, &r, &lossless));
    if (!lossless) throw JsError(JsError::Kind::RangeError, std::string(what) + " does not fit in int64");
    return r;
  }
  double d;
  if (t != napi_number || napi_get_value_double(env, v, &d) != napi_ok)
    throw type_error(std::string(what) + " must be an integer");
  if (std::floor(d) != d) throw type_error(std::string(what) + " must be an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

bool get_bool(napi_env env, napi_value v, const char* what) {
  bool b;
  if (napi_get_value_bool(env, v, &b) != napi_ok) throw type_error(std::string(what) + " must be a boolean");
  return b;
}

std::string get_string(napi_env env, napi_value v, const char* what) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok)
    throw type_error(std::string(what) + " must be a string");
  std::string s(len, '\0');
  NAPI_CHECK(napi_get_value_string_utf8(env, v, s.data(), len + 1, &len));
  return s;
}

uint32_t array_length(napi_env env, napi_value arr) {
  uint32_t n;
  NAPI_CHECK(napi_get_array_length(env, arr, &n));
  return n;
}

napi_value array_get(napi_env env, napi_value arr, uint32_t i) {
  napi_value v;
  NAPI_CHECK(napi_get_element(env, arr, i, &v));
  return v;
}

napi_value make_double(napi_env env, double v) {
  napi_value r;
  NAPI_CHECK(napi_create_double(env, v, &r));
  return r;
}

napi_value make_int64(napi_env env, int64_t v) {
  napi_value r;
  NAPI_CHECK(napi_create_int64(env, v, &r));
  return r;
}

napi_value make_bool(napi_env env, bool v) {
  napi_value r;
  NAPI_CHECK(napi_get_boolean(env, v, &r));
  return r;
}

napi_value make_string(napi_env env, const std::string& s) {
  napi_value r;
  NAPI_CHECK(napi_create_string_utf8(env, s.data(), s.size(), &r));
  return r;
}

napi_value make_undefined(napi_env env) {
  napi_value r;
  NAPI_CHECK(napi_get_undefined(env, &r));
  return r;
}

napi_value make_null(napi_env env) {
  napi_value r;
  NAPI_CHECK(napi_get_null(env, &r));
  return r;
}

napi_value make_array(napi_env env, size_t n) {
  napi_value r;
  NAPI_CHECK(napi_create_array_with_length(env, n, &r));
  return r;
}

namespace {
napi_ref g_keys[KEY_COUNT] = {};
const char* const kKeyNames[KEY_COUNT] = {"_h", "_id", "type", "index"};
}  // namespace

void init_keys(napi_env env) {
  for (int i = 0; i < KEY_COUNT; ++i) {
    napi_value s = make_string(env, kKeyNames[i]);
    NAPI_CHECK(napi_create_reference(env, s, 1, &g_keys[i]));
  }
}

void forget_keys() {
  for (napi_ref& k : g_keys) k = nullptr;
}

napi_value key(napi_env env, int which) {
  napi_value v;
  NAPI_CHECK(napi_get_reference_value(env, g_keys[which], &v));
  return v;
}

namespace {

struct StashedJsError {
  napi_ref error = nullptr;
  std::string message;
};
thread_local StashedJsError t_stashed;  // per thread: each Node-API env has its own thread

// Throws the stashed JS value when `what` is the message it failed a native call with.
bool rethrow_stashed(napi_env env, const char* what) {
  if (t_stashed.error == nullptr || t_stashed.message != what) return false;
  napi_value error;
  bool ok = napi_get_reference_value(env, t_stashed.error, &error) == napi_ok;
  clear_stashed_js_error(env);
  return ok && napi_throw(env, error) == napi_ok;
}

}  // namespace

void stash_js_error(napi_env env, napi_value error, const std::string& message) {
  if (t_stashed.error != nullptr) return;
  if (napi_create_reference(env, error, 1, &t_stashed.error) != napi_ok) t_stashed.error = nullptr;
  t_stashed.message = message;
}

void clear_stashed_js_error(napi_env env) {
  if (t_stashed.error != nullptr) napi_delete_reference(env, t_stashed.error);
  t_stashed.error = nullptr;
  t_stashed.message.clear();
}

namespace {
napi_ref g_error_classes[PY_ERROR_COUNT] = {};
napi_env g_error_env = nullptr;  // the env the classes belong to (a refused Worker's env must not touch them)
const char* const kErrorClassNames[PY_ERROR_COUNT] = {"RuntimeError", "ValueError", "IndexError", "NotImplementedError", "OutOfMemoryError"};

void throw_py(napi_env env, PyError which, const char* message) {
  napi_value ctor, msg, error;
  if (env != g_error_env || g_error_classes[which] == nullptr || napi_get_reference_value(env, g_error_classes[which], &ctor) != napi_ok || ctor == nullptr ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok || napi_new_instance(env, ctor, 1, &msg, &error) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, nullptr, message);
    return;
  }
  napi_throw(env, error);
}

// setErrorClasses({ RuntimeError, ValueError, IndexError, NotImplementedError, OutOfMemoryError })
TESSERA_ENTRY(js_set_error_classes) {
  auto ci = get_args(env, info, 1);
  if (ci.args.empty() || type_of(env, ci.args[0]) != napi_object) throw type_error("setErrorClasses(classes): classes must be an object");
  for (int i = 0; i < PY_ERROR_COUNT; ++i) {
    napi_value ctor;
    NAPI_CHECK(napi_get_named_property(env, ci.args[0], kErrorClassNames[i], &ctor));
    if (type_of(env, ctor) != napi_function) throw type_error(std::string("setErrorClasses: ") + kErrorClassNames[i] + " must be a class");
    if (g_error_classes[i] != nullptr) napi_delete_reference(env, g_error_classes[i]);
    NAPI_CHECK(napi_create_reference(env, ctor, 1, &g_error_classes[i]));
  }
  g_error_env = env;
  return make_undefined(env);
}
}  // namespace

void register_error_functions(napi_env env, napi_value exports) {
  set_function(env, exports, "setErrorClasses", js_set_error_classes);
}

void forget_error_classes() {
  for (napi_ref& c : g_error_classes) c = nullptr;
  g_error_env = nullptr;
}

void throw_current(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  try {
    throw;
  } catch (const std::exception& e) {
    if (!pending && rethrow_stashed(env, e.what())) return;
  } catch (...) {
  }
  if (pending) return;
  try {
    throw;
  } catch (const JsPending&) {
  } catch (const JsError& e) {
    switch (e.kind) {
      case JsError::Kind::TypeError: napi_throw_type_error(env, nullptr, e.what()); break;
      case JsError::Kind::RangeError: throw_py(env, PY_VALUE_ERROR, e.what()); break;
      default: throw_py(env, PY_RUNTIME_ERROR, e.what());
    }
  } catch (const c10::IndexError& e) {
    throw_py(env, PY_INDEX_ERROR, e.what_without_backtrace());
  } catch (const c10::ValueError& e) {
    throw_py(env, PY_VALUE_ERROR, e.what_without_backtrace());
  } catch (const c10::TypeError& e) {
    napi_throw_type_error(env, nullptr, e.what_without_backtrace());
  } catch (const c10::NotImplementedError& e) {
    throw_py(env, PY_NOT_IMPLEMENTED_ERROR, e.what_without_backtrace());
  } catch (const c10::OutOfMemoryError& e) {
    throw_py(env, PY_OUT_OF_MEMORY_ERROR, e.what_without_backtrace());
  } catch (const c10::Error& e) {
    throw_py(env, PY_RUNTIME_ERROR, e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw_py(env, PY_RUNTIME_ERROR, e.what());
  } catch (...) {
    throw_py(env, PY_RUNTIME_ERROR, "unknown native exception");
  }
}

void set_function(napi_env env, napi_value exports, const char* name, napi_callback cb) {
  napi_value fn;
  NAPI_CHECK(napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, nullptr, &fn));
  NAPI_CHECK(napi_set_named_property(env, exports, name, fn));
}

}  // namespace tessera
