#include "unboxed.h"

namespace tessera {

namespace {

// One letter per argument: T a tensor, S a Scalar, D an optional dtype; empty when an argument is
// of any other kind.
std::string shape_of(const std::vector<ArgType>& types) {
  std::string out;
  for (const ArgType& t : types) {
    if (t.list || t.elem_optional) return "";
    if (t.base == Base::Tensor && !t.optional) out += 'T';
    else if (t.base == Base::Scalar && !t.optional) out += 'S';
    else if (t.base == Base::ScalarType && t.optional) out += 'D';
    else return "";
  }
  return out;
}

bool returns_new_tensor(const c10::FunctionSchema& s) {
  if (s.returns().size() != 1 || s.returns()[0].type()->kind() != c10::TypeKind::TensorType) return false;
  for (const auto& a : s.arguments())
    if (a.alias_info() && a.alias_info()->isWrite()) return false;
  return true;
}

template <class... A>
UnboxedOp typed(const c10::OperatorHandle& op) {
  try {
    return op.typed<at::Tensor(A...)>();  // checks the kernels' registered C++ signature
  } catch (const c10::Error&) {
    return std::monostate{};
  }
}

}  // namespace

UnboxedOp unboxed_for(const c10::OperatorHandle& op, const std::vector<ArgType>& types) {
  if (!returns_new_tensor(op.schema())) return std::monostate{};
  using namespace sig;
  const std::string shape = shape_of(types);
  if (shape == "T") return typed<T>(op);
  if (shape == "TT") return typed<T, T>(op);
  if (shape == "TTS") return typed<T, T, S>(op);
  if (shape == "TS") return typed<T, S>(op);
  if (shape == "TD") return typed<T, D>(op);
  return std::monostate{};
}

}  // namespace tessera
