// torch.utils.tensorboard
export { SummaryWriter, type SummaryWriterOptions, type ScalarLike } from "./writer.js";
