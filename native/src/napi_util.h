// Thin helpers over the C Node-API: checked calls, argument access, and the one rule that every
// entry point follows — a C++ exception (libtorch's c10::Error included) becomes a JS exception.
#pragma once

#ifndef NAPI_EXPERIMENTAL
#define NAPI_EXPERIMENTAL  // finalizers that run inside GC (node_api_basic_finalize)
#endif
#include <node_api.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace tessera {

// Thrown by helpers when a napi call fails or an argument is wrong; carries the JS error kind.
struct JsError : std::runtime_error {
  enum class Kind { Error, TypeError, RangeError };
  Kind kind;
  JsError(Kind k, const std::string& msg) : std::runtime_error(msg), kind(k) {}
};

// A JS exception is already pending (thrown by JS code we called); just unwind.
struct JsPending {};

inline JsError type_error(const std::string& msg) { return JsError(JsError::Kind::TypeError, msg); }

// Conversion errors start with the name they were given; this swaps that leading name (old_len
// characters) for a longer one, so full names ("add(): argument 'other'", "size[1]") are built on
// the error path only, never per call.
[[noreturn]] inline void rethrow_renamed(const JsError& e, size_t old_len, const std::string& name) {
  throw JsError(e.kind, name + (e.what() + old_len));
}

inline void check(napi_env env, napi_status s, const char* what) {
  if (s == napi_ok) return;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) throw JsPending{};
  throw JsError(JsError::Kind::Error, std::string("Node-API call failed: ") + what);
}
#define NAPI_CHECK(call) ::tessera::check(env, (call), #call)

struct CallInfo {
  napi_value self = nullptr;
  std::vector<napi_value> args;
};

CallInfo get_args(napi_env env, napi_callback_info info, size_t max_args = 16);

napi_valuetype type_of(napi_env env, napi_value v);
bool is_array(napi_env env, napi_value v);
double get_double(napi_env env, napi_value v, const char* what);
int64_t get_int64(napi_env env, napi_value v, const char* what);
bool get_bool(napi_env env, napi_value v, const char* what);
std::string get_string(napi_env env, napi_value v, const char* what);
uint32_t array_length(napi_env env, napi_value arr);
napi_value array_get(napi_env env, napi_value arr, uint32_t i);

napi_value make_double(napi_env env, double v);
napi_value make_int64(napi_env env, int64_t v);
napi_value make_bool(napi_env env, bool v);
napi_value make_string(napi_env env, const std::string& s);
napi_value make_undefined(napi_env env);
napi_value make_null(napi_env env);
napi_value make_array(napi_env env, size_t n);

// Interned property keys, created once per env (cheaper than creating a string per lookup).
napi_value key(napi_env env, int which);
enum Key { KEY_H = 0, KEY_ID, KEY_TYPE, KEY_INDEX, KEY_COUNT };
void init_keys(napi_env env);
// Forgets the keys of an env that is ending (its references end with it).
void forget_keys();

// Python's exception classes, as the JS classes src/torch/errors.ts defines and registers with
// setErrorClasses (until then, and for TypeError, JS's built-in classes are thrown).
enum PyError { PY_RUNTIME_ERROR = 0, PY_VALUE_ERROR, PY_INDEX_ERROR, PY_NOT_IMPLEMENTED_ERROR, PY_OUT_OF_MEMORY_ERROR, PY_ERROR_COUNT };
void register_error_functions(napi_env env, napi_value exports);
void forget_error_classes();

// Converts the exception in flight into a JS exception of Python's class (c10::ValueError becomes
// ValueError, and so on, as torch/csrc/Exceptions.h maps them). Call from a catch(...) block only.
void throw_current(napi_env env);

// A JS exception thrown by a callback that native code ran (autograd's JS backward and hooks) fails
// that native call with `message`; the entry that then fails rethrows the original JS value, so
// the caller catches its own error (class, fields, stack) as Python's caller would. The first one
// stashed wins until it is rethrown or cleared.
void stash_js_error(napi_env env, napi_value error, const std::string& message);
void clear_stashed_js_error(napi_env env);

// Native entries running on this thread (an entry can run JS, which can call entries again).
inline thread_local int t_entry_depth = 0;

// Releases the tensor slots whose Tensor objects GC collected while native code ran (handles.cc).
// Until the outermost entry returns they are kept: V8 may collect an argument's Tensor object as
// soon as its `_h` has been read, while the call still reads the slot.
void release_deferred_handles(napi_env env);

class EntryScope {
 public:
  explicit EntryScope(napi_env env) : env_(env) { ++t_entry_depth; }
  ~EntryScope() {
    if (--t_entry_depth == 0) release_deferred_handles(env_);
  }
  EntryScope(const EntryScope&) = delete;
  EntryScope& operator=(const EntryScope&) = delete;

 private:
  napi_env env_;
};

// JS that native code calls runs as if at top level, so that GC during it releases slots at once;
// the calling entry must hold its tensors by value, not through slots, across the call.
class JsCallScope {
 public:
  JsCallScope() : saved_(t_entry_depth) { t_entry_depth = 0; }
  ~JsCallScope() { t_entry_depth = saved_; }
  JsCallScope(const JsCallScope&) = delete;
  JsCallScope& operator=(const JsCallScope&) = delete;

 private:
  int saved_;
};

// Runs body; any C++ exception becomes a JS exception and the entry returns undefined.
template <typename F>
napi_value guarded(napi_env env, F&& body) {
  EntryScope scope(env);
  try {
    return body();
  } catch (...) {
    throw_current(env);
    return nullptr;
  }
}

// Declares a Node-API entry point whose body may throw.
#define TESSERA_ENTRY(name)                                                   \
  static napi_value name##_impl(napi_env env, napi_callback_info info);       \
  napi_value name(napi_env env, napi_callback_info info) {                    \
    return ::tessera::guarded(env, [&] { return name##_impl(env, info); });  \
  }                                                                           \
  static napi_value name##_impl(napi_env env, napi_callback_info info)

void set_function(napi_env env, napi_value exports, const char* name, napi_callback cb);

}  // namespace tessera
