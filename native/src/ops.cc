// Every registered ATen op through one entry: `callOp(setId, mask, ...args)` resolves the overload
// the way Python's argument parser does (exact types first, then numbers standing for tensors),
// converts the arguments by the op's schema and calls the dispatcher's boxed path, so autograd,
// autocast and device dispatch all apply. `listOps()` gives the schemas to the code generator.
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <c10/util/SmallVector.h>

#include <cctype>
#include <sstream>
#include <unordered_map>

#include "handles.h"
#include "ivalue_convert.h"
#include "ops.h"
#include "unboxed.h"

namespace tessera {

namespace {

struct Overload {
  explicit Overload(const c10::OperatorHandle& h) : op(h), schema(&h.schema()) {}
  c10::OperatorHandle op;
  const c10::FunctionSchema* schema;  // the dispatcher's own, which outlives the registry
  std::vector<ArgType> types;
  size_t num_positional = 0;  // arguments before `*`
  bool returns_self = false;  // `Tensor(a!)` aliasing argument 0: the caller gets argument 0 back
  UnboxedOp unboxed;          // set when the op has one of the signatures unboxed.h calls directly
};

struct OverloadSet {
  std::string name;  // "aten::add"
  std::vector<Overload> overloads;
  bool returns_self = false;
};

std::vector<OverloadSet> g_sets;
std::unordered_map<std::string, size_t> g_set_ids;

// `out=` overloads write into a caller's tensor; tessera's surface returns new tensors instead.
bool is_out_overload(const c10::FunctionSchema& s) {
  for (const auto& a : s.arguments())
    if (a.kwarg_only() && a.alias_info() && a.alias_info()->isWrite()) return true;
  return false;
}

bool returns_first_argument(const c10::FunctionSchema& s) {
  if (s.returns().size() != 1 || s.arguments().empty()) return false;
  const auto* ra = s.returns()[0].alias_info();
  const auto* aa = s.arguments()[0].alias_info();
  return ra && aa && ra->isWrite() && aa->isWrite() && ra->beforeSets() == aa->beforeSets();
}

bool make_overload(Overload* out) {
  const auto& schema = *out->schema;
  if (is_out_overload(schema)) return false;
  for (const auto& arg : schema.arguments()) {
    ArgType t;
    if (!parse_arg_type(arg, &t)) return false;
    out->types.push_back(t);
    if (!arg.kwarg_only()) ++out->num_positional;
  }
  for (const auto& r : schema.returns()) {
    ArgType t;
    if (!parse_arg_type(r, &t)) return false;
  }
  out->returns_self = returns_first_argument(schema);
  out->unboxed = unboxed_for(out->op, out->types);
  return true;
}

// Overloads that Python's binding hides (SKIP_PYTHON_BINDINGS_SIGNATURES in PyTorch's
// gen_python_functions.py): `x.mul(2)` goes to mul.Tensor with a wrapped number, so results and
// grad_fn names (MulBackward0) are Python's.
bool hidden_from_python(const c10::OperatorName& n) {
  if (n.overload_name != "Scalar") return false;
  static const char* const names[] = {"aten::add", "aten::add_", "aten::sub", "aten::sub_",
                                      "aten::mul", "aten::mul_", "aten::div", "aten::div_"};
  for (const char* name : names)
    if (n.name == name) return true;
  return false;
}

void build_registry() {
  if (!g_sets.empty()) return;
  auto names = c10::Dispatcher::singleton().getAllOpNames();
  std::sort(names.begin(), names.end(), [](const c10::OperatorName& a, const c10::OperatorName& b) {
    return a.name != b.name ? a.name < b.name : a.overload_name < b.overload_name;
  });
  for (const auto& n : names) {
    auto handle = c10::Dispatcher::singleton().findOp(n);
    if (!handle || !handle->hasSchema() || hidden_from_python(n)) continue;
    Overload o(*handle);
    if (!make_overload(&o)) continue;
    auto it = g_set_ids.find(n.name);
    if (it == g_set_ids.end()) {
      it = g_set_ids.emplace(n.name, g_sets.size()).first;
      g_sets.push_back(OverloadSet{n.name, {}, true});
    }
    OverloadSet& set = g_sets[it->second];
    // The default overload ("") first: Python's parser tries the plainest signature first.
    if (n.overload_name.empty()) set.overloads.insert(set.overloads.begin(), std::move(o));
    else set.overloads.push_back(std::move(o));
  }
  for (auto& set : g_sets) {
    for (const auto& o : set.overloads) set.returns_self = set.returns_self && o.returns_self;
  }
}

// JS values of one call; inline storage, since nearly every op takes fewer than 16 arguments.
using Values = c10::SmallVector<JsValue, 16>;

struct Kwarg {
  std::string name;
  JsValue value;
};

std::vector<Kwarg> read_kwargs(napi_env env, napi_value kwargs) {
  std::vector<Kwarg> out;
  napi_valuetype t = type_of(env, kwargs);
  if (t == napi_undefined || t == napi_null) return out;
  if (t != napi_object) throw type_error("keyword arguments must be an object");
  napi_value names;
  NAPI_CHECK(napi_get_property_names(env, kwargs, &names));
  uint32_t n = array_length(env, names);
  for (uint32_t i = 0; i < n; ++i) {
    napi_value k = array_get(env, names, i);
    napi_value v;
    NAPI_CHECK(napi_get_property(env, kwargs, k, &v));
    if (type_of(env, v) == napi_undefined) continue;  // `{dtype: undefined}` means "not given"
    out.push_back({get_string(env, k, "keyword"), inspect(env, v)});
  }
  return out;
}

// Python's varargs sizes: x.view(2, 3) and torch.zeros(2, 3) pass an int[] as separate ints. The
// trailing ints are packed into the last positional argument when that is an int list.
bool pack_varargs(napi_env env, const Overload& o, const Values& args, Values* bound) {
  if (o.num_positional == 0) return false;
  size_t p = o.num_positional - 1;
  const ArgType& t = o.types[p];
  if (!t.list || t.base != Base::Int) return false;
  napi_value packed = make_array(env, args.size() - p);
  for (size_t i = p; i < args.size(); ++i) {
    if (args[i].type != napi_number) return false;
    NAPI_CHECK(napi_set_element(env, packed, i - p, args[i].v));
  }
  for (size_t i = 0; i < p; ++i) (*bound)[i] = args[i];
  (*bound)[p] = JsValue{packed, napi_object, nullptr};
  return true;
}

// The JS value bound to each schema argument, or nullptr for "use the default".
bool bind_args(napi_env env, const Overload& o, const Values& args, const std::vector<Kwarg>& kwargs,
          Match mode, Values* bound) {
  const auto& schema_args = o.schema->arguments();
  bound->assign(schema_args.size(), JsValue{});
  if (args.size() > o.num_positional) {
    if (!pack_varargs(env, o, args, bound)) return false;
  } else {
    for (size_t i = 0; i < args.size(); ++i) (*bound)[i] = args[i];
  }
  for (const auto& kw : kwargs) {
    size_t j = 0;
    while (j < schema_args.size() && schema_args[j].name() != kw.name) ++j;
    // Python spells `self` as `input` in torch.* functions.
    if (j == schema_args.size() && kw.name == "input" && !schema_args.empty() && schema_args[0].name() == "self") j = 0;
    if (j == schema_args.size() || (*bound)[j].v != nullptr) return false;
    (*bound)[j] = kw.value;
  }
  for (size_t j = 0; j < schema_args.size(); ++j) {
    const JsValue& v = (*bound)[j];
    if (v.v == nullptr) {
      if (!schema_args[j].default_value().has_value() && !o.types[j].optional) return false;
      continue;
    }
    if (!value_matches(env, v, o.types[j], mode)) return false;
  }
  return true;
}

std::string display_name(const OverloadSet& set) {
  auto pos = set.name.find("::");
  return (pos == std::string::npos ? set.name : set.name.substr(pos + 2)) + "()";
}

// An argument's type as the error names it: the schema's real type (a dtype, not the int it is stored
// as), in Python's words for the types Python shows as torch.* classes.
std::string expected_type(const c10::Argument& a) {
  static const std::unordered_map<std::string, std::string> python_names = {
      {"ScalarType", "torch.dtype"}, {"Layout", "torch.layout"}, {"MemoryFormat", "torch.memory_format"}, {"Device", "torch.device"}};
  const std::string s = a.real_type()->annotation_str();
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t j = i;
    while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
    if (j == i) {
      out += s[i++];
      continue;
    }
    auto it = python_names.find(s.substr(i, j - i));
    out += it == python_names.end() ? s.substr(i, j - i) : it->second;
    i = j;
  }
  return out;
}

// With a single overload the error can say which argument is wrong, in Python's words; returns
// when it cannot tell.
void throw_single_overload_error(napi_env env, const OverloadSet& set, const Overload& o, const Values& args,
                                        const std::vector<Kwarg>& kwargs) {
  const auto& schema_args = o.schema->arguments();
  const std::string op = display_name(set);
  for (const auto& kw : kwargs) {
    bool known = kw.name == "input" && !schema_args.empty() && schema_args[0].name() == "self";
    for (const auto& a : schema_args) known = known || a.name() == kw.name;
    if (!known) throw type_error(op + " got an unexpected keyword argument '" + kw.name + "'");
  }
  if (args.size() > o.num_positional && (o.num_positional == 0 || !o.types[o.num_positional - 1].list))
    throw type_error(op + " takes " + std::to_string(o.num_positional) + " positional arguments but " +
                     std::to_string(args.size()) + " were given");
  for (size_t j = 0; j < schema_args.size() && j < args.size(); ++j) {
    if (value_matches(env, args[j], o.types[j], Match::NumbersAsTensors)) continue;
    if (j == o.num_positional - 1 && o.types[j].list && o.types[j].base == Base::Int) break;  // varargs sizes
    throw type_error(op + ": argument '" + schema_args[j].name() + "' (position " + std::to_string(j + 1) + ") must be " +
                     expected_type(schema_args[j]) + ", not " + describe_js(env, args[j]));
  }
  for (const auto& kw : kwargs) {
    for (size_t j = 0; j < schema_args.size(); ++j) {
      if (schema_args[j].name() != kw.name || value_matches(env, kw.value, o.types[j], Match::NumbersAsTensors)) continue;
      throw type_error(op + ": argument '" + kw.name + "' must be " + expected_type(schema_args[j]) + ", not " +
                       describe_js(env, kw.value));
    }
  }
  for (size_t j = args.size(); j < o.num_positional; ++j) {
    bool given = false;
    for (const auto& kw : kwargs) given = given || kw.name == schema_args[j].name();
    if (!given && !schema_args[j].default_value().has_value() && !o.types[j].optional)
      throw type_error(op + " missing required argument '" + schema_args[j].name() + "' (position " + std::to_string(j + 1) + ")");
  }
}

[[noreturn]] void no_match(napi_env env, const OverloadSet& set, const Values& args,
                           const std::vector<Kwarg>& kwargs) {
  if (set.overloads.size() == 1) throw_single_overload_error(env, set, set.overloads[0], args, kwargs);
  std::ostringstream msg;
  msg << display_name(set) << " received an invalid combination of arguments - got (";
  for (size_t i = 0; i < args.size(); ++i) msg << (i ? ", " : "") << describe_js(env, args[i]);
  for (size_t i = 0; i < kwargs.size(); ++i)
    msg << ((i || !args.empty()) ? ", " : "") << kwargs[i].name << "=" << describe_js(env, kwargs[i].value);
  msg << "), but expected one of:";
  for (const auto& o : set.overloads) msg << "\n * " << *o.schema;
  throw type_error(msg.str());
}

napi_value results_to_js(napi_env env, const Overload& o, torch::jit::Stack& stack) {
  const auto& returns = o.schema->returns();
  if (stack.size() == 1 && returns.size() <= 1) {
    // A lone tensor goes back as its bare handle, a number, which the JS caller wraps
    // (src/torch/_invoke.ts); so a lone number result goes back boxed, as a Number object.
    if (stack[0].isTensor()) return tensor_handle_value(env, std::move(stack[0]).toTensor());
    napi_value v = from_ivalue(env, stack[0]);
    if (type_of(env, v) == napi_number) NAPI_CHECK(napi_coerce_to_object(env, v, &v));
    return v;
  }
  if (stack.empty()) return make_undefined(env);
  napi_value arr = make_array(env, stack.size());
  for (size_t i = 0; i < stack.size(); ++i) {
    napi_value v = from_ivalue(env, stack[i]);
    NAPI_CHECK(napi_set_element(env, arr, i, v));
    if (i < returns.size() && !returns[i].name().empty())  // named tuple: `values`, `indices`, ...
      NAPI_CHECK(napi_set_named_property(env, arr, returns[i].name().c_str(), v));
  }
  return arr;
}

[[noreturn]] void rethrow_for_argument(const JsError& e, const OverloadSet& set, const std::string& name) {
  rethrow_renamed(e, name.size(), display_name(set) + ": argument '" + name + "'");
}

// An op that returns one of its inputs unchanged (`t.to(t.dtype)`, `t.contiguous()`) gives back the
// caller's own object, as Python's `is` would see it: that argument's JS value, else nullptr.
napi_value argument_returned(const Values& bound, const at::Tensor& result) {
  const c10::TensorImpl* impl = result.unsafeGetTensorImpl();
  for (const JsValue& b : bound)
    if (b.tensor != nullptr && b.tensor->tensor.unsafeGetTensorImpl() == impl) return b.v;
  return nullptr;
}

// Argument j of an unboxed call, converted to the C++ type the typed kernel takes (unboxed.h).
struct UnboxedArgs {
  napi_env env;
  const OverloadSet& set;
  const Overload& o;
  const Values& bound;

  const c10::Argument& arg(size_t j) const { return o.schema->arguments()[j]; }

  template <class F>
  auto named(size_t j, F&& convert) const {
    const std::string& name = arg(j).name();
    try {
      return convert(name);
    } catch (const JsError& e) {
      rethrow_for_argument(e, set, name);
    }
  }
  c10::MaybeOwned<at::Tensor> operator()(size_t j, std::type_identity<const at::Tensor&>) const {
    return named(j, [&](const std::string& name) { return tensor_arg(env, bound[j], name); });
  }
  c10::Scalar operator()(size_t j, std::type_identity<const c10::Scalar&>) const {
    if (bound[j].v == nullptr) return arg(j).default_value()->toScalar();
    return named(j, [&](const std::string& name) { return to_scalar(env, bound[j].v, name); });
  }
  std::optional<at::ScalarType> operator()(size_t j, std::type_identity<std::optional<at::ScalarType>>) const {
    const JsValue& v = bound[j];
    if (v.v == nullptr) return arg(j).default_value()->toOptional<at::ScalarType>();
    if (v.type == napi_undefined || v.type == napi_null) return std::nullopt;
    return named(j, [&](const std::string& name) { return to_scalar_type(env, v.v, name); });
  }
};

napi_value call_overload(napi_env env, const OverloadSet& set, const Overload& o,
                         const Values& bound, napi_value first_arg) {
  if (o.unboxed.index() != 0) {
    at::Tensor result = call_unboxed(o.unboxed, UnboxedArgs{env, set, o, bound});
    if (napi_value same = argument_returned(bound, result)) return same;
    return tensor_handle_value(env, std::move(result));
  }
  const auto& schema_args = o.schema->arguments();
  torch::jit::Stack stack;
  stack.reserve(schema_args.size());
  for (size_t j = 0; j < schema_args.size(); ++j) {
    if (bound[j].v == nullptr) {
      if (schema_args[j].default_value().has_value()) stack.push_back(*schema_args[j].default_value());
      else stack.emplace_back();
      continue;
    }
    const std::string& name = schema_args[j].name();
    try {
      stack.push_back(to_ivalue(env, bound[j], o.types[j], name));
    } catch (const JsError& e) {
      rethrow_for_argument(e, set, name);
    }
  }
  o.op.callBoxed(&stack);
  if (o.returns_self && first_arg != nullptr) return first_arg;
  if (stack.size() == 1 && stack[0].isTensor()) {
    if (napi_value same = argument_returned(bound, stack[0].toTensor())) return same;
  }
  return results_to_js(env, o, stack);
}

// Argument i of a call: a tensor handle when bit i of the call's mask says so (a handle is a
// number, so only the caller can tell it from a number argument), else any JS value.
JsValue inspect_argument(napi_env env, napi_value v, uint32_t mask, size_t i) {
  if (i >= 32 || (mask & (1u << i)) == 0) return inspect(env, v);
  TensorHandle* h = tensor_handle_of_index(env, v);
  if (h == nullptr) throw type_error("argument " + std::to_string(i + 1) + " is not a valid tensor handle");
  return JsValue{v, napi_external, h};
}

// callOp(setId, mask, ...args) and callOpKw(setId, mask, kwargs, ...args); bit i of `mask` marks
// args[i] as a tensor handle. The arguments come as call arguments, not an array: one
// napi_get_cb_info instead of a length read and an element read each.
napi_value call_op(napi_env env, napi_callback_info info, bool with_kwargs) {
  napi_value inline_argv[16];
  c10::SmallVector<napi_value, 0> long_argv;
  napi_value* argv = inline_argv;
  size_t argc = 16;
  NAPI_CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc > 16) {  // long varargs sizes: read again with room for all
    long_argv.resize(argc);
    argv = long_argv.data();
    NAPI_CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  }
  const size_t first_arg = with_kwargs ? 3 : 2;
  if (argc < first_arg) throw type_error(with_kwargs ? "callOpKw(setId, mask, kwargs, ...args)" : "callOp(setId, mask, ...args)");
  uint32_t id, mask;
  if (napi_get_value_uint32(env, argv[0], &id) != napi_ok || id >= g_sets.size())
    throw JsError(JsError::Kind::RangeError, "unknown op id");
  if (napi_get_value_uint32(env, argv[1], &mask) != napi_ok) throw type_error("callOp: mask must be a number");
  const OverloadSet& set = g_sets[id];
  Values args(argc - first_arg);
  for (size_t i = first_arg; i < argc; ++i) args[i - first_arg] = inspect_argument(env, argv[i], mask, i - first_arg);
  // Trailing undefineds are omitted optional positionals.
  while (!args.empty() && args.back().type == napi_undefined) args.pop_back();
  std::vector<Kwarg> kwargs = with_kwargs ? read_kwargs(env, argv[2]) : std::vector<Kwarg>{};
  napi_value first = args.empty() ? nullptr : args[0].v;
  Values bound;
  for (Match mode : {Match::Exact, Match::NumbersAsTensors}) {
    for (const auto& o : set.overloads) {
      if (bind_args(env, o, args, kwargs, mode, &bound)) return call_overload(env, set, o, bound, first);
    }
  }
  no_match(env, set, args, kwargs);
}

TESSERA_ENTRY(js_call_op) { return call_op(env, info, false); }
TESSERA_ENTRY(js_call_op_kw) { return call_op(env, info, true); }

// resolveOp("aten::add") -> set id, or -1 when no overload is callable from JS.
TESSERA_ENTRY(js_resolve_op) {
  build_registry();
  auto ci = get_args(env, info, 1);
  std::string name = get_string(env, ci.args.at(0), "op name");
  if (name.find("::") == std::string::npos) name = "aten::" + name;
  auto it = g_set_ids.find(name);
  return make_int64(env, it == g_set_ids.end() ? -1 : static_cast<int64_t>(it->second));
}

napi_value default_to_js(napi_env env, const c10::Argument& a) {
  if (!a.default_value().has_value()) return make_undefined(env);
  std::ostringstream s;
  s << *a.default_value();
  return make_string(env, s.str());
}

napi_value argument_to_js(napi_env env, const c10::Argument& a, bool is_return) {
  napi_value o;
  NAPI_CHECK(napi_create_object(env, &o));
  NAPI_CHECK(napi_set_named_property(env, o, "name", make_string(env, a.name())));
  NAPI_CHECK(napi_set_named_property(env, o, "type", make_string(env, a.real_type()->annotation_str())));
  if (!is_return) {
    NAPI_CHECK(napi_set_named_property(env, o, "kwargOnly", make_bool(env, a.kwarg_only())));
    NAPI_CHECK(napi_set_named_property(env, o, "default", default_to_js(env, a)));
    if (a.N().has_value()) NAPI_CHECK(napi_set_named_property(env, o, "N", make_int64(env, *a.N())));
    NAPI_CHECK(napi_set_named_property(env, o, "isWrite", make_bool(env, a.alias_info() && a.alias_info()->isWrite())));
  }
  return o;
}

// listOps(): [{name, returnsSelf, overloads: [{overload, schema, args, returns}]}] for the generator.
TESSERA_ENTRY(js_list_ops) {
  build_registry();
  napi_value out = make_array(env, g_sets.size());
  for (size_t i = 0; i < g_sets.size(); ++i) {
    const auto& set = g_sets[i];
    napi_value s;
    NAPI_CHECK(napi_create_object(env, &s));
    NAPI_CHECK(napi_set_named_property(env, s, "name", make_string(env, set.name)));
    NAPI_CHECK(napi_set_named_property(env, s, "returnsSelf", make_bool(env, set.returns_self)));
    napi_value ovs = make_array(env, set.overloads.size());
    for (size_t k = 0; k < set.overloads.size(); ++k) {
      const auto& schema = *set.overloads[k].schema;
      napi_value ov;
      NAPI_CHECK(napi_create_object(env, &ov));
      NAPI_CHECK(napi_set_named_property(env, ov, "overload", make_string(env, schema.overload_name())));
      std::ostringstream text;
      text << schema;
      NAPI_CHECK(napi_set_named_property(env, ov, "schema", make_string(env, text.str())));
      napi_value args = make_array(env, schema.arguments().size());
      for (size_t j = 0; j < schema.arguments().size(); ++j)
        NAPI_CHECK(napi_set_element(env, args, j, argument_to_js(env, schema.arguments()[j], false)));
      napi_value rets = make_array(env, schema.returns().size());
      for (size_t j = 0; j < schema.returns().size(); ++j)
        NAPI_CHECK(napi_set_element(env, rets, j, argument_to_js(env, schema.returns()[j], true)));
      NAPI_CHECK(napi_set_named_property(env, ov, "args", args));
      NAPI_CHECK(napi_set_named_property(env, ov, "returns", rets));
      NAPI_CHECK(napi_set_element(env, ovs, k, ov));
    }
    NAPI_CHECK(napi_set_named_property(env, s, "overloads", ovs));
    NAPI_CHECK(napi_set_element(env, out, i, s));
  }
  return out;
}

}  // namespace

void register_op_functions(napi_env env, napi_value exports) {
  set_function(env, exports, "callOp", js_call_op);
  set_function(env, exports, "callOpKw", js_call_op_kw);
  set_function(env, exports, "resolveOp", js_resolve_op);
  set_function(env, exports, "listOps", js_list_ops);
}

}  // namespace tessera
