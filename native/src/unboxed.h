// Typed (unboxed) dispatcher calls for the commonest op signatures. The boxed path (ops.cc) can call
// every op, but it packs each argument into an IValue and the kernel unpacks it again; for the
// signatures most tiny ops have — (Tensor) -> Tensor, (Tensor, Tensor, Scalar) -> Tensor, ... — the
// same dispatcher entry is called with C++ arguments instead, as PyTorch's Python binding does.
// Autograd, autocast and device dispatch apply exactly as on the boxed path.
#pragma once

#include <ATen/core/dispatch/Dispatcher.h>

#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "ivalue_convert.h"

namespace tessera {

// How an argument of C++ type A is held while the call is prepared, and passed to it.
template <class A>
struct Held;
template <>
struct Held<const at::Tensor&> {
  using type = c10::MaybeOwned<at::Tensor>;
  static const at::Tensor& pass(const type& h) { return *h; }
};
template <>
struct Held<const c10::Scalar&> {
  using type = c10::Scalar;
  static const c10::Scalar& pass(const type& h) { return h; }
};
template <>
struct Held<std::optional<at::ScalarType>> {
  using type = std::optional<at::ScalarType>;
  static std::optional<at::ScalarType> pass(const type& h) { return h; }
};

template <class... A>
using TypedOp = c10::TypedOperatorHandle<at::Tensor(A...)>;

namespace sig {
using T = const at::Tensor&;
using S = const c10::Scalar&;
using D = std::optional<at::ScalarType>;
}  // namespace sig

using UnboxedOp = std::variant<std::monostate, TypedOp<sig::T>, TypedOp<sig::T, sig::T>, TypedOp<sig::T, sig::T, sig::S>,
                               TypedOp<sig::T, sig::S>, TypedOp<sig::T, sig::D>>;

// The typed handle for `op` when its schema has one of the signatures above and returns a new
// tensor (no argument written in place); std::monostate otherwise.
UnboxedOp unboxed_for(const c10::OperatorHandle& op, const std::vector<ArgType>& types);

namespace detail {
template <class Op>
struct Arity;
template <class... A>
struct Arity<TypedOp<A...>> : std::integral_constant<size_t, sizeof...(A)> {};

template <class Convert, class... A, size_t... I>
at::Tensor call_typed(const TypedOp<A...>& op, Convert& convert, std::index_sequence<I...>) {
  // Braced initialisation converts left to right, so the first bad argument is the one reported.
  std::tuple<typename Held<A>::type...> held{convert(I, std::type_identity<A>{})...};
  return op.call(Held<A>::pass(std::get<I>(held))...);
}
}  // namespace detail

// Calls `op` (not monostate) with argument j converted by `convert(j, std::type_identity<A>{})`,
// which returns Held<A>::type.
template <class Convert>
at::Tensor call_unboxed(const UnboxedOp& op, Convert&& convert) {
  return std::visit(
      [&](const auto& typed) -> at::Tensor {
        if constexpr (std::is_same_v<std::decay_t<decltype(typed)>, std::monostate>) {
          throw std::logic_error("call_unboxed: the op has no typed signature");
        } else {
          return detail::call_typed(typed, convert, std::make_index_sequence<detail::Arity<std::decay_t<decltype(typed)>>::value>{});
        }
      },
      op);
}

}  // namespace tessera
