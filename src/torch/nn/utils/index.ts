// torch.nn.utils.
export { clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm, type TensorOrTensors } from "./clip_grad.js";
export { parameters_to_vector, vector_to_parameters } from "./convert_parameters.js";
