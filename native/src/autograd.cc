// The autograd bridge. backward() and grad() run libtorch's engine on a worker thread while the JS
// main thread pumps a queue of JS callbacks (custom autograd.Function backward, tensor hooks):
// the engine's threads (the worker on CPU, device threads on CUDA) never call into JS themselves,
// they post a request and wait. The main thread is blocked only in that pump, so no callback can
// deadlock. This is the pattern of mlverse/torch, on libtorch's public C++ autograd API.
#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "handles.h"
#include "ivalue_convert.h"
#include "ops.h"

namespace tessera {

namespace {

using torch::autograd::variable_list;
using NodePtr = std::decay_t<decltype(std::declval<const at::TensorBase&>().grad_fn())>;

// libtorch 2.13 holds autograd nodes in intrusive_ptr, older releases in shared_ptr.
template <class T>
auto make_node() {
  if constexpr (std::is_same_v<NodePtr, std::shared_ptr<torch::autograd::Node>>) return std::make_shared<T>();
  else return c10::make_intrusive<T>();
}

napi_env g_env = nullptr;
std::thread::id g_main_thread;
napi_ref g_runner = nullptr;  // JS: (id, tensors[]) => (Tensor|null)[] | Tensor | null

// ---- the pump -------------------------------------------------------------------------------

struct JsCall {
  int64_t fn_id;
  variable_list inputs;
  at::ThreadLocalState state;  // the engine thread's: grad mode is create_graph inside a backward
  variable_list outputs;
  std::string error;
  bool done = false;
};

std::mutex g_mu;
std::condition_variable g_cv;
std::deque<JsCall*> g_queue;
std::vector<int64_t> g_released;  // callback ids whose owners died; JS drops them on next call

// A callback's result value: a live Tensor, or null/undefined for no gradient (an undefined tensor).
at::Tensor callback_result(napi_env env, napi_value v) {
  napi_valuetype t = type_of(env, v);
  if (t == napi_null || t == napi_undefined) return at::Tensor();
  TensorHandle* h = tensor_handle(env, v);
  if (h == nullptr) throw type_error("expected a Tensor or null as a gradient, got " + describe_js(env, v));
  if (!h->tensor.defined()) throw JsError(JsError::Kind::Error, "a gradient is a disposed Tensor");
  return h->tensor;
}

// Runs one callback on the main thread, under the thread-local state of the engine thread that asked
// for it, as PyTorch runs a Python backward on that thread; a JS exception becomes call->error.
void run_on_main(JsCall* call) {
  at::ThreadLocalStateGuard state_guard(call->state);
  napi_env env = g_env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  try {
    napi_value runner, global, result;
    NAPI_CHECK(napi_get_reference_value(env, g_runner, &runner));
    NAPI_CHECK(napi_get_global(env, &global));
    napi_value arr = make_array(env, call->inputs.size());
    for (size_t i = 0; i < call->inputs.size(); ++i) NAPI_CHECK(napi_set_element(env, arr, i, wrap_tensor(env, call->inputs[i])));
    napi_value argv[2] = {make_int64(env, call->fn_id), arr};
    napi_status st;
    {
      JsCallScope js;  // `call` holds its tensors by value
      st = napi_call_function(env, global, runner, 2, argv, &result);
    }
    if (st != napi_ok) {
      napi_value exc, msg, str;
      napi_get_and_clear_last_exception(env, &exc);
      napi_valuetype t = type_of(env, exc);
      if ((t == napi_object || t == napi_function) && napi_get_named_property(env, exc, "stack", &msg) == napi_ok &&
          type_of(env, msg) == napi_string)
        str = msg;
      else if (t == napi_symbol || napi_coerce_to_string(env, exc, &str) != napi_ok)
        str = make_string(env, "a JS callback threw a value that is not an Error");
      call->error = get_string(env, str, "error");
      stash_js_error(env, exc, call->error);
    } else if (is_array(env, result)) {
      uint32_t n = array_length(env, result);
      for (uint32_t i = 0; i < n; ++i) call->outputs.push_back(callback_result(env, array_get(env, result, i)));
    } else {
      call->outputs.push_back(callback_result(env, result));
    }
  } catch (const std::exception& e) {
    call->error = e.what();
  } catch (...) {
    call->error = "JS callback failed";
  }
  napi_close_handle_scope(env, scope);
}

// Called on any thread by the engine: hands the call to the main thread and waits for it.
variable_list call_js(int64_t fn_id, variable_list inputs) {
  JsCall call{fn_id, std::move(inputs), at::ThreadLocalState(), {}, {}, false};
  if (std::this_thread::get_id() == g_main_thread) {
    run_on_main(&call);
  } else {
    std::unique_lock<std::mutex> lk(g_mu);
    g_queue.push_back(&call);
    g_cv.notify_all();
    g_cv.wait(lk, [&] { return call.done; });
  }
  if (!call.error.empty()) throw std::runtime_error(call.error);
  return std::move(call.outputs);
}

void release_callback(int64_t fn_id) {
  std::lock_guard<std::mutex> lk(g_mu);
  g_released.push_back(fn_id);
}

// A long-lived worker runs engine calls; a nested call (a callback that itself calls backward)
// gets a thread of its own, since the worker is then busy.
class EngineWorker {
 public:
  bool try_run(std::function<void()>* job) {
    std::unique_lock<std::mutex> lk(mu_);
    if (busy_) return false;
    if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
    busy_ = true;
    job_ = job;
    cv_.notify_all();
    return true;
  }
  ~EngineWorker() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || job_ != nullptr; });
      if (stop_) return;
      std::function<void()>* job = job_;
      lk.unlock();
      (*job)();
      lk.lock();
      job_ = nullptr;
      busy_ = false;
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  std::function<void()>* job_ = nullptr;
  bool busy_ = false;
  bool stop_ = false;
};

EngineWorker g_worker;

// libtorch's engine runs CPU, meta and lazy nodes on the thread that called it and gives every other
// device type threads of its own (Engine::start_device_threads), which must never wait on a main
// thread that is busy inside the engine. Without such devices the engine stays on the calling
// thread, so backward can run right on the main thread: no thread handoff per call.
bool engine_has_device_threads() {
  for (const auto& impl_atomic : c10::impl::device_guard_impl_registry) {
    const c10::impl::DeviceGuardImplInterface* impl = impl_atomic.load();
    if (impl == nullptr) continue;
    c10::DeviceType t = impl->type();
    if (t == c10::DeviceType::CPU || t == c10::DeviceType::Meta || t == c10::DeviceType::Lazy) continue;
    try {
      if (impl->deviceCount() > 0) return true;
    } catch (...) {  // a device type whose driver is missing has no devices
    }
  }
  return false;
}

// Whether engine calls go to the worker and the main thread pumps callbacks; decided on first use
// (asking for device counts may initialize a driver). Tests switch it on with
// setEngineOnWorker(true) to exercise the pump on a CPU-only machine.
std::optional<bool> g_engine_on_worker;

bool engine_on_worker() {
  if (!g_engine_on_worker) g_engine_on_worker = engine_has_device_threads();
  return *g_engine_on_worker;
}

// Runs `work` (an engine call): inline when the engine cannot leave this thread, else off the main
// thread with the main thread's thread-local state (grad mode, autocast, ...), pumping JS callbacks
// until it finishes; rethrows its error.
void run_engine(const std::function<void()>& work) {
  clear_stashed_js_error(g_env);
  if (!engine_on_worker()) {
    work();
    return;
  }
  at::ThreadLocalState state;
  std::exception_ptr error;
  bool finished = false;
  std::function<void()> job = [&] {
    try {
      // The intra-op thread count set on the main thread (OpenMP's and MKL's are per thread), as
      // libtorch's own engine threads take it.
      at::init_num_threads();
      at::ThreadLocalStateGuard guard(state);
      work();
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lk(g_mu);
    finished = true;
    g_cv.notify_all();
  };
  std::thread extra;
  if (!g_worker.try_run(&job)) extra = std::thread(job);
  std::unique_lock<std::mutex> lk(g_mu);
  for (;;) {
    g_cv.wait(lk, [&] { return finished || !g_queue.empty(); });
    if (!g_queue.empty()) {
      JsCall* call = g_queue.front();
      g_queue.pop_front();
      lk.unlock();
      run_on_main(call);
      lk.lock();
      call->done = true;
      g_cv.notify_all();
      continue;
    }
    break;
  }
  lk.unlock();
  if (extra.joinable()) extra.join();
  if (error) std::rethrow_exception(error);
}

// ---- custom autograd.Function ---------------------------------------------------------------

struct JsFunctionNode : torch::autograd::Node {
  int64_t fn_id = -1;
  std::string node_name;

  variable_list apply(variable_list&& grads) override {
    // Like PyTorch's default materialize_grads: outputs that got no gradient pass zeros.
    for (size_t i = 0; i < grads.size(); ++i)
      if (!grads[i].defined()) grads[i] = input_metadata(i).zeros_like();
    variable_list out = call_js(fn_id, std::move(grads));
    if (out.size() != num_outputs())
      throw std::runtime_error(node_name + ".backward returned " + std::to_string(out.size()) +
                               " gradients, but forward had " + std::to_string(num_outputs()) + " tensor inputs");
    return out;
  }
  std::string name() const override { return node_name; }
  ~JsFunctionNode() override { release_callback(fn_id); }
};

variable_list tensor_list(napi_env env, napi_value arr, const char* what, bool allow_null) {
  if (!is_array(env, arr)) throw type_error(std::string(what) + " must be an array of Tensors");
  uint32_t n = array_length(env, arr);
  variable_list out;
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    napi_value v = array_get(env, arr, i);
    napi_valuetype t = type_of(env, v);
    if (allow_null && (t == napi_null || t == napi_undefined)) {
      out.emplace_back();
      continue;
    }
    out.push_back(unwrap_tensor_object(env, v, what, i));
  }
  return out;
}

napi_value tensors_to_js(napi_env env, const variable_list& ts) {
  napi_value arr = make_array(env, ts.size());
  for (size_t i = 0; i < ts.size(); ++i) NAPI_CHECK(napi_set_element(env, arr, i, wrap_tensor(env, ts[i])));
  return arr;
}

// createFunctionNode(fnId, name, inputs: (Tensor|null)[], outputs: Tensor[]) -> Tensor[]
// Outputs come back as new tensors (same memory) whose grad_fn is the JS function's node.
TESSERA_ENTRY(js_create_function_node) {
  auto ci = get_args(env, info, 4);
  int64_t fn_id = get_int64(env, ci.args.at(0), "fnId");
  std::string name = get_string(env, ci.args.at(1), "name");
  variable_list inputs = tensor_list(env, ci.args.at(2), "inputs", true);
  variable_list outputs = tensor_list(env, ci.args.at(3), "outputs", true);
  auto node = make_node<JsFunctionNode>();
  node->fn_id = fn_id;
  node->node_name = name;
  node->set_next_edges(torch::autograd::collect_next_edges(inputs));
  NodePtr base = node;
  variable_list result;
  result.reserve(outputs.size());
  for (auto& out : outputs) {
    if (!out.defined()) {
      base->add_input_metadata(torch::autograd::Node::undefined_input());
      result.emplace_back();
      continue;
    }
    at::Tensor o = out.detach();  // a fresh autograd identity, even when forward returned an input
    if (torch::autograd::isDifferentiableType(o.scalar_type())) torch::autograd::set_history(o, base);
    else base->add_input_metadata(torch::autograd::Node::undefined_input());
    result.push_back(std::move(o));
  }
  return tensors_to_js(env, result);
}

TESSERA_ENTRY(js_set_callback_runner) {
  auto ci = get_args(env, info, 1);
  if (g_runner != nullptr) NAPI_CHECK(napi_delete_reference(env, g_runner));
  NAPI_CHECK(napi_create_reference(env, ci.args.at(0), 1, &g_runner));
  return make_undefined(env);
}

TESSERA_ENTRY(js_take_released_callbacks) {
  std::vector<int64_t> ids;
  {
    std::lock_guard<std::mutex> lk(g_mu);
    ids.swap(g_released);
  }
  napi_value arr = make_array(env, ids.size());
  for (size_t i = 0; i < ids.size(); ++i) NAPI_CHECK(napi_set_element(env, arr, i, make_int64(env, ids[i])));
  return arr;
}

// ---- hooks ----------------------------------------------------------------------------------

// Owns a callback id for as long as libtorch keeps the hook.
struct CallbackRef {
  int64_t id;
  explicit CallbackRef(int64_t i) : id(i) {}
  ~CallbackRef() { release_callback(id); }
};

// registerHook(t, fnId) -> handle index (for removeHook)
TESSERA_ENTRY(js_register_hook) {
  auto ci = get_args(env, info, 2);
  at::Tensor t = unwrap_tensor(env, ci.args.at(0), "tensor");
  if (!t.requires_grad()) throw JsError(JsError::Kind::Error, "cannot register a hook on a tensor that doesn't require gradient");
  auto ref = std::make_shared<CallbackRef>(get_int64(env, ci.args.at(1), "fnId"));
  unsigned pos = t.register_hook([ref](const at::Tensor& grad) -> at::Tensor {
    variable_list out = call_js(ref->id, {grad});
    return out.empty() ? at::Tensor() : out[0];
  });
  return make_int64(env, pos);
}

TESSERA_ENTRY(js_remove_hook) {
  auto ci = get_args(env, info, 2);
  unwrap_tensor(env, ci.args.at(0), "tensor").remove_hook(static_cast<unsigned>(get_int64(env, ci.args.at(1), "handle")));
  return make_undefined(env);
}

// ---- engine entry points --------------------------------------------------------------------

// backward(tensors, grads (null = implicit), retainGraph: bool|null, createGraph, inputs|null)
TESSERA_ENTRY(js_backward) {
  auto ci = get_args(env, info, 5);
  variable_list tensors = tensor_list(env, ci.args.at(0), "tensors", false);
  variable_list grads = tensor_list(env, ci.args.at(1), "grad_tensors", true);
  std::optional<bool> retain;
  if (type_of(env, ci.args.at(2)) == napi_boolean) retain = get_bool(env, ci.args[2], "retain_graph");
  bool create = get_bool(env, ci.args.at(3), "create_graph");
  variable_list inputs;
  if (ci.args.size() > 4 && is_array(env, ci.args[4])) inputs = tensor_list(env, ci.args[4], "inputs", false);
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].requires_grad())
      throw JsError(JsError::Kind::Error, "element " + std::to_string(i) + " of tensors does not require grad and does not have a grad_fn");
  }
  run_engine([&] { torch::autograd::backward(tensors, grads, retain, create, inputs); });
  return make_undefined(env);
}

// grad(outputs, inputs, gradOutputs (nulls allowed), retainGraph|null, createGraph, allowUnused)
TESSERA_ENTRY(js_grad) {
  auto ci = get_args(env, info, 6);
  variable_list outputs = tensor_list(env, ci.args.at(0), "outputs", false);
  variable_list inputs = tensor_list(env, ci.args.at(1), "inputs", false);
  variable_list grad_outputs = tensor_list(env, ci.args.at(2), "grad_outputs", true);
  std::optional<bool> retain;
  if (type_of(env, ci.args.at(3)) == napi_boolean) retain = get_bool(env, ci.args[3], "retain_graph");
  bool create = get_bool(env, ci.args.at(4), "create_graph");
  bool allow_unused = get_bool(env, ci.args.at(5), "allow_unused");
  variable_list result;
  run_engine([&] { result = torch::autograd::grad(outputs, inputs, grad_outputs, retain, create, allow_unused); });
  return tensors_to_js(env, result);
}

// zeroGrads(params, setToNone): Optimizer/Module.zero_grad over a list of parameters in one call,
// with no JS wrapper per `p.grad` (a wrapper costs more than dropping the gradient it names).
TESSERA_ENTRY(js_zero_grads) {
  auto ci = get_args(env, info, 2);
  variable_list params = tensor_list(env, ci.args.at(0), "params", false);
  bool set_to_none = get_bool(env, ci.args.at(1), "set_to_none");
  for (auto& p : params) {
    at::Tensor& g = p.mutable_grad();
    if (!g.defined()) continue;
    if (set_to_none) {
      g.reset();
      continue;
    }
    if (g.grad_fn()) g.detach_();
    else g.set_requires_grad(false);
    g.zero_();
  }
  return make_undefined(env);
}

// ---- grad mode ------------------------------------------------------------------------------

TESSERA_ENTRY(js_is_grad_enabled) { return make_bool(env, c10::GradMode::is_enabled()); }

TESSERA_ENTRY(js_set_grad_enabled) {
  auto ci = get_args(env, info, 1);
  c10::GradMode::set_enabled(get_bool(env, ci.args.at(0), "mode"));
  return make_undefined(env);
}

// InferenceMode is an RAII guard in C++; JS scopes enter and exit it in strict nesting.
std::vector<std::unique_ptr<c10::InferenceMode>> g_inference_guards;

TESSERA_ENTRY(js_enter_inference_mode) {
  auto ci = get_args(env, info, 1);
  g_inference_guards.push_back(std::make_unique<c10::InferenceMode>(get_bool(env, ci.args.at(0), "mode")));
  return make_undefined(env);
}

TESSERA_ENTRY(js_exit_inference_mode) {
  if (!g_inference_guards.empty()) g_inference_guards.pop_back();
  return make_undefined(env);
}

TESSERA_ENTRY(js_set_engine_on_worker) {
  auto ci = get_args(env, info, 1);
  bool on = get_bool(env, ci.args.at(0), "onWorker");
  if (!on && engine_has_device_threads())
    throw JsError(JsError::Kind::Error, "setEngineOnWorker(false): this machine has accelerator devices, whose autograd threads need the pump");
  g_engine_on_worker = on;
  return make_undefined(env);
}

TESSERA_ENTRY(js_is_engine_on_worker) { return make_bool(env, engine_on_worker()); }

TESSERA_ENTRY(js_is_inference_mode_enabled) { return make_bool(env, c10::InferenceMode::is_enabled()); }

}  // namespace

void forget_autograd_env() {
  std::lock_guard<std::mutex> lk(g_mu);
  g_env = nullptr;
  g_runner = nullptr;
  g_released.clear();  // ids of the ending env's callbacks
}

void register_autograd_functions(napi_env env, napi_value exports) {
  g_env = env;
  g_main_thread = std::this_thread::get_id();
  set_function(env, exports, "backward", js_backward);
  set_function(env, exports, "autogradGrad", js_grad);
  set_function(env, exports, "zeroGrads", js_zero_grads);
  set_function(env, exports, "createFunctionNode", js_create_function_node);
  set_function(env, exports, "setCallbackRunner", js_set_callback_runner);
  set_function(env, exports, "takeReleasedCallbacks", js_take_released_callbacks);
  set_function(env, exports, "registerHook", js_register_hook);
  set_function(env, exports, "removeHook", js_remove_hook);
  set_function(env, exports, "isGradEnabled", js_is_grad_enabled);
  set_function(env, exports, "setGradEnabled", js_set_grad_enabled);
  set_function(env, exports, "enterInferenceMode", js_enter_inference_mode);
  set_function(env, exports, "exitInferenceMode", js_exit_inference_mode);
  set_function(env, exports, "isInferenceModeEnabled", js_is_inference_mode_enabled);
  set_function(env, exports, "setEngineOnWorker", js_set_engine_on_worker);
  set_function(env, exports, "isEngineOnWorker", js_is_engine_on_worker);
}

}  // namespace tessera
