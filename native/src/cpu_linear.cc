// `tessera::linear`: F.linear, with float32 CPU matmuls of useful size run by oneDNN.
//
// Why: at::linear runs a float32 CPU matmul through MKL's sgemm, and MKL takes its AVX2 path on AMD
// CPUs even where they have AVX-512, at about half the speed of the oneDNN matmul that libtorch
// also ships (`mkldnn::_linear_pointwise`, the kernel inductor's CPU backend calls). On a 2-core
// AMD EPYC with one thread a [1024, 256] x [256, 688] product takes 3.0 ms in MKL and 1.3 ms in
// oneDNN, and every shape from 2^20 multiply-adds and 4 rows up is 0.45-0.95 of MKL's time. Below
// that oneDNN's fixed cost per call makes it slower, and so does a matrix-vector product (1-2 rows:
// a decoded token), where MKL's gemv is as fast or faster (bench/RESULTS.md, "Linear layers through
// oneDNN"). So a linear of at least 2^20 multiply-adds and 4 rows whose tensors are all float32 on
// the CPU runs there, its backward too; anything else (other dtypes and devices, autocast, small
// shapes, `torch.backends.mkldnn.enabled = false`) is at::linear, as PyTorch runs it. The results
// differ from MKL's in float32 rounding only (the order of the additions).
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

#include <optional>

#include "ops.h"

namespace tessera {

namespace {

constexpr double kMinMultiplyAdds = 1 << 20;
constexpr double kMinRows = 4;

// mkldnn::_linear_pointwise, or nothing where libtorch was built without oneDNN.
const std::optional<c10::OperatorHandle>& pointwise_op() {
  static const std::optional<c10::OperatorHandle> op =
      at::hasMKLDNN() ? c10::Dispatcher::singleton().findSchema({"mkldnn::_linear_pointwise", ""}) : std::nullopt;
  return op;
}

// x @ w^T (+ b) through oneDNN; x [..., K] and w [N, K] of any strides, b [N].
at::Tensor onednn_linear(const at::Tensor& x, const at::Tensor& w, const std::optional<at::Tensor>& b) {
  torch::jit::Stack stack;
  stack.reserve(6);
  stack.emplace_back(x);
  stack.emplace_back(w);
  stack.emplace_back(b.has_value() ? c10::IValue(*b) : c10::IValue());
  stack.emplace_back("none");                                    // no fused activation
  stack.emplace_back(c10::List<std::optional<at::Scalar>>());  // its scalars
  stack.emplace_back(c10::IValue());                             // its algorithm
  pointwise_op()->callBoxed(&stack);
  return stack.at(0).toTensor();
}

bool plain_cpu_float(const at::Tensor& t) {
  return t.device().is_cpu() && t.layout() == at::kStrided && t.scalar_type() == at::kFloat && !t.is_neg();
}

bool use_onednn(const at::Tensor& x, const at::Tensor& w, const std::optional<at::Tensor>& b) {
  if (!pointwise_op() || !at::globalContext().userEnabledMkldnn()) return false;
  if (!plain_cpu_float(x) || !plain_cpu_float(w) || (b.has_value() && (!plain_cpu_float(*b) || b->dim() != 1))) return false;
  // Shape errors are at::linear's to report, in PyTorch's words.
  if (w.dim() != 2 || x.dim() < 2 || x.size(-1) != w.size(1) || (b.has_value() && b->size(0) != w.size(0))) return false;
  if (at::autocast::is_autocast_enabled(at::kCPU)) return false;
  const double rows = x.size(-1) == 0 ? 0 : static_cast<double>(x.numel()) / static_cast<double>(x.size(-1));
  return rows >= kMinRows && rows * static_cast<double>(w.size(0)) * static_cast<double>(w.size(1)) >= kMinMultiplyAdds;
}

}  // namespace

// Its backward is the two products of MmBackward, in oneDNN too; with create_graph it uses ATen's
// matmuls instead, so that the gradients can be differentiated again. Saves only what a gradient
// needs, as MmBackward does (a frozen weight's layer keeps no input).
struct OneDnnLinear : public torch::autograd::Function<OneDnnLinear> {
  // `b` is an optional, not an undefined Tensor: Function::apply records every Tensor argument as
  // an input with a device, and counts only present optionals as inputs.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            const std::optional<at::Tensor>& b) {
    ctx->save_for_backward({w.requires_grad() ? x : at::Tensor(), x.requires_grad() ? w : at::Tensor()});
    ctx->saved_data["bias"] = b.has_value();
    return onednn_linear(x, w, b);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved.at(0);
    const at::Tensor& w = saved.at(1);
    const at::Tensor& g = grads.at(0);
    at::Tensor gx, gw, gb;
    if (!g.defined()) return {gx, gw, gb};
    const bool differentiable = c10::GradMode::is_enabled();
    const at::Tensor g2 = g.reshape({-1, g.size(-1)});
    if (ctx->needs_input_grad(0)) gx = differentiable ? g.matmul(w) : onednn_linear(g, w.t(), std::nullopt);
    if (ctx->needs_input_grad(1)) {
      const at::Tensor x2 = x.reshape({-1, x.size(-1)});
      gw = differentiable ? g2.t().mm(x2) : onednn_linear(g2.t(), x2.t(), std::nullopt);
    }
    if (ctx->saved_data["bias"].toBool() && ctx->needs_input_grad(2)) gb = g2.sum(0);
    return {gx, gw, gb};
  }
};

namespace {

at::Tensor linear(const at::Tensor& input, const at::Tensor& weight, const std::optional<at::Tensor>& bias) {
  // An undefined bias (a null from a boxed call) is no bias.
  const std::optional<at::Tensor> b = bias.has_value() && bias->defined() ? bias : std::nullopt;
  if (!use_onednn(input, weight, b)) return at::linear(input, weight, bias);
  const bool needs_graph =
      c10::GradMode::is_enabled() && (input.requires_grad() || weight.requires_grad() || (b.has_value() && b->requires_grad()));
  return needs_graph ? OneDnnLinear::apply(input, weight, b) : onednn_linear(input, weight, b);
}

}  // namespace

}  // namespace tessera

TORCH_LIBRARY(tessera, m) {
  m.def("linear(Tensor input, Tensor weight, Tensor? bias=None) -> Tensor", TORCH_FN(tessera::linear));
}
