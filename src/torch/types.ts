// Small argument types shared by the generated op signatures.

/** A Python Scalar: an integral JS number acts as a Python int, any other number as a float. */
export type Scalar = number | boolean | bigint;

/** torch.layout values (libtorch's Layout enum). */
export interface Layout {
  readonly _id: number;
}

/** torch.memory_format values (libtorch's MemoryFormat enum). */
export interface MemoryFormat {
  readonly _id: number;
}

export const strided: Layout = Object.freeze({ _id: 0, toString: () => "torch.strided" });
export const contiguous_format: MemoryFormat = Object.freeze({ _id: 0, toString: () => "torch.contiguous_format" });
export const preserve_format: MemoryFormat = Object.freeze({ _id: 1, toString: () => "torch.preserve_format" });
export const channels_last: MemoryFormat = Object.freeze({ _id: 2, toString: () => "torch.channels_last" });
