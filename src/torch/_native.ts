// Loads the native addon and describes its entry points. Everything else in src/torch reaches
// libtorch through this one module.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Tensor } from "./tensor.js";

/**
 * An opaque reference to a libtorch object, owned by the JS object that holds it: for a tensor, a
 * small integer (its slot in the addon's tensor table, owned by the Tensor that adopted it); for
 * other objects, a Node-API external.
 */
export type NativeHandle = { readonly __native: unique symbol };

/** What may stand for a tensor when crossing into native code: a JS Tensor or its handle. */
export type TensorRef = { _h: NativeHandle } | NativeHandle;

/** native/src/handles.cc */
export interface HandleEntries {
  setTensorClass(ctor: new (h: NativeHandle) => object): void;
  /**
   * `tensor` takes ownership of the new handle `h` (a finalizer on `tensor` releases it); `scoped`:
   * a scope owns it, so its memory is not counted as waiting for the GC. Returns the bytes it hands
   * to the GC.
   */
  adopt(tensor: object, h: NativeHandle, scoped: boolean): number;
  /**
   * Counts `h`'s memory as the GC's to free (a scope's tensor that outlived every scope); returns
   * the bytes newly counted.
   */
  reportExternal(h: NativeHandle): number;
  dispose(t: TensorRef): void;
  isDisposed(t: TensorRef): boolean;
  /** Bytes of this thread's tensors that only the GC will free. */
  gcOwnedBytes(): number;
  /** Whether V8's external-memory count holds those bytes (on at start). */
  setV8ExternalMemory(on: boolean): void;
}

/** native/src/ops.cc */
export interface OpEntries {
  /** Bit i of `mask` marks args[i] as a tensor handle (handles are numbers). */
  callOp(id: number, mask: number, ...args: unknown[]): unknown;
  callOpKw(id: number, mask: number, kwargs: object, ...args: unknown[]): unknown;
  resolveOp(name: string): number;
  listOps(): OpSetInfo[];
}

/** native/src/tensor_api.cc */
export interface TensorEntries {
  fromBytes(bytes: ArrayBufferView | ArrayBuffer, dtype: { _id: number }, shape: number[], device?: string): unknown;
  /** `pin`: the storage stops being resizable, for a view that outlives the call. */
  bytesView(t: TensorRef, pin?: boolean): ArrayBuffer;
  bytesCopy(t: TensorRef): ArrayBuffer;
  /** A uint8 tensor over bytes [offset, offset + nbytes) of base's storage, in a storage of its own that keeps base's alive. */
  storageView(base: TensorRef, offset: number, nbytes: number): Tensor;
  readInto(t: TensorRef, fd: number, position: number): number;
  shape(t: TensorRef): number[];
  strides(t: TensorRef): number[];
  dtype(t: TensorRef): number;
  device(t: TensorRef): string;
  dim(t: TensorRef): number;
  numel(t: TensorRef): number;
  storageOffset(t: TensorRef): number;
  storageInfo(t: TensorRef): [string, number];
  /**
   * Resizes t's storage in place to `nbytes` (0 frees it), for every tensor sharing it; growing
   * keeps the first min(old, new) bytes. Throws for a storage that is not resizable.
   */
  resizeStorage(t: TensorRef, nbytes: number): void;
  isContiguous(t: TensorRef): boolean;
  requiresGrad(t: TensorRef): boolean;
  setRequiresGrad(t: TensorRef, value: boolean): void;
  grad(t: TensorRef): NativeHandle | null;
  setGrad(t: TensorRef, g: TensorRef | null): void;
  isLeaf(t: TensorRef): boolean;
  gradFnName(t: TensorRef): string | null;
  retainGrad(t: TensorRef): void;
  item(t: TensorRef): number | boolean;
  data(t: TensorRef): NativeHandle;
  setData(t: TensorRef, data: TensorRef): void;
  sameTensor(a: TensorRef, b: TensorRef): boolean;
}

/** native/src/autograd.cc */
export interface AutogradEntries {
  backward(
    tensors: TensorRef[],
    grads: (TensorRef | null)[],
    retainGraph: boolean | null,
    createGraph: boolean,
    inputs: TensorRef[] | null,
  ): void;
  autogradGrad(
    outputs: TensorRef[],
    inputs: TensorRef[],
    gradOutputs: (TensorRef | null)[],
    retainGraph: boolean | null,
    createGraph: boolean,
    allowUnused: boolean,
  ): unknown[];
  zeroGrads(params: TensorRef[], setToNone: boolean): void;
  createFunctionNode(fnId: number, name: string, inputs: (TensorRef | null)[], outputs: (TensorRef | null)[]): unknown[];
  setCallbackRunner(runner: (id: number, tensors: unknown[]) => unknown): void;
  takeReleasedCallbacks(): number[];
  registerHook(t: TensorRef, fnId: number): number;
  removeHook(t: TensorRef, handle: number): void;
  isGradEnabled(): boolean;
  setGradEnabled(mode: boolean): void;
  enterInferenceMode(mode: boolean): void;
  exitInferenceMode(): void;
  isInferenceModeEnabled(): boolean;
  /** Whether backward runs on a worker thread while the main thread pumps JS callbacks. */
  isEngineOnWorker(): boolean;
  setEngineOnWorker(onWorker: boolean): void;
}

/** native/src/runtime.cc */
export interface RuntimeEntries {
  manualSeed(seed: number | bigint): void;
  initialSeed(): number;
  newGenerator(device?: string): NativeHandle;
  defaultGenerator(): NativeHandle;
  cudaDefaultGenerator(index?: number): NativeHandle;
  generatorManualSeed(g: NativeHandle, seed: number | bigint): void;
  generatorInitialSeed(g: NativeHandle): number;
  generatorGetState(g: NativeHandle): unknown;
  generatorSetState(g: NativeHandle, state: TensorRef): void;
  getDefaultDtype(): number;
  setDefaultDtype(dtype: { _id: number }): void;
  getNumThreads(): number;
  setNumThreads(n: number): void;
  mkldnnIsAvailable(): boolean;
  mkldnnEnabled(): boolean;
  setMkldnnEnabled(enabled: boolean): void;
  cudaIsAvailable(): boolean;
  cudaDeviceCount(): number;
  cudaCurrentDevice(): number;
  cudaSetDevice(index: number): void;
  cudaSynchronize(index?: number): void;
  cudaMemoryStats(index?: number): [number, number, number, number];
  cudaResetPeakMemoryStats(index?: number): void;
  cudaEmptyCache(): void;
  cudaMemInfo(index?: number): [number, number];
  versions(): { torch: string; cuda: boolean | null; config: string };
  setMmapThreshold(bytes: number): boolean;
}

/** native/src/napi_util.cc */
export interface ErrorEntries {
  /** The JS classes that c10's exception types become (src/torch/errors.ts). */
  setErrorClasses(
    classes: Record<
      "RuntimeError" | "ValueError" | "IndexError" | "NotImplementedError" | "OutOfMemoryError",
      new (message: string) => Error
    >,
  ): void;
}

/** native/src/distributed.cc: c10d stores, process groups and works; handles are opaque externals owned by the JS objects that hold them. */
export interface DistributedEntries {
  distTcpStore(host: string, port: number, isServer: boolean, worldSize: number, timeoutMs: number, waitWorkers: boolean): NativeHandle;
  distTcpStorePort(store: NativeHandle): number;
  distFileStore(path: string, worldSize: number, timeoutMs: number): NativeHandle;
  distPrefixStore(prefix: string, store: NativeHandle): NativeHandle;
  distSealedStore(token: string, store: NativeHandle): NativeHandle;
  heartbeatSetFd(fd: number): void;
  heartbeatWaitBegin(): void;
  heartbeatWaitEnd(): void;
  distStoreSet(store: NativeHandle, key: string, value: string): void;
  distStoreGet(store: NativeHandle, key: string): string;
  distStoreAdd(store: NativeHandle, key: string, amount: number): number;
  distStoreWait(store: NativeHandle, keys: string[], timeoutMs: number): void;
  distStoreSetTimeout(store: NativeHandle, timeoutMs: number): void;
  distNewGroup(backend: string, store: NativeHandle, rank: number, size: number, timeoutMs: number, host: string): NativeHandle;
  distAvailableBackends(): string[];
  distDestroyGroup(group: NativeHandle): void;
  distAllreduce(group: NativeHandle, t: TensorRef, op: string): NativeHandle;
  distBroadcast(group: NativeHandle, t: TensorRef, src: number): NativeHandle;
  distAllgather(group: NativeHandle, outputs: TensorRef[], input: TensorRef): NativeHandle;
  distAllgatherBase(group: NativeHandle, output: TensorRef, input: TensorRef): NativeHandle;
  distReduceScatterBase(group: NativeHandle, output: TensorRef, input: TensorRef, op: string): NativeHandle;
  distAlltoallBase(group: NativeHandle, output: TensorRef, input: TensorRef, outSplits: number[], inSplits: number[]): NativeHandle;
  distSend(group: NativeHandle, t: TensorRef, dst: number, tag: number): NativeHandle;
  distRecv(group: NativeHandle, t: TensorRef, src: number, tag: number): NativeHandle;
  distBarrier(group: NativeHandle): NativeHandle;
  distStartCoalescing(group: NativeHandle): void;
  distEndCoalescing(group: NativeHandle): NativeHandle;
  distWorkWait(work: NativeHandle, timeoutMs: number): boolean;
  distWorkIsCompleted(work: NativeHandle): boolean;
  distWorkPromise(work: NativeHandle): Promise<void>;
  distReachableLeaves(outputs: TensorRef[]): Tensor[];
}

/** native/src/autocast.cc */
export interface AutocastEntries {
  autocastIsEnabled(device_type: string): boolean;
  autocastSetEnabled(device_type: string, enabled: boolean): void;
  autocastGetDtype(device_type: string): number;
  autocastSetDtype(device_type: string, dtype: { _id: number }): void;
  autocastIncrementNesting(): number;
  autocastDecrementNesting(): number;
  autocastClearCache(): void;
  autocastIsCacheEnabled(): boolean;
  autocastSetCacheEnabled(enabled: boolean): void;
}

/** native/src/cpu_memory.cc: the counting CPU allocator (installed on demand) and its statistics. */
export interface CpuMemoryEntries {
  cpuMemoryTracking(): void;
  cpuMemoryStats(): [number, number];
  cpuResetPeakMemoryStats(): void;
}

/** native/src/cpu_caching_allocator.cc: the caching CPU allocator for large blocks (installed at load). */
export interface CpuCachingEntries {
  cpuSetAllocatorSettings(conf: string): void;
  cpuAllocatorSettings(): [boolean, number, number, number];
  cpuCachingAllocatorStats(): [number, number, number, number, number];
  cpuEmptyCache(): void;
}

/**
 * Every entry point the addon registers, declared once, grouped by the native file that registers it
 * (test/core/native_contract.test.ts checks this against the built addon).
 */
export type NativeAddon = HandleEntries &
  ErrorEntries &
  OpEntries &
  TensorEntries &
  AutogradEntries &
  RuntimeEntries &
  DistributedEntries &
  AutocastEntries &
  CpuMemoryEntries &
  CpuCachingEntries;

export interface OpArgInfo {
  name: string;
  type: string;
  kwargOnly?: boolean;
  default?: string;
  N?: number;
  isWrite?: boolean;
}

export interface OpSetInfo {
  name: string;
  returnsSelf: boolean;
  overloads: { overload: string; schema: string; args: OpArgInfo[]; returns: OpArgInfo[] }[];
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

function load(): NativeAddon {
  const file = process.env.TESSERA_ADDON ?? path.join(root, "build", "native", "tessera.node");
  if (!existsSync(file)) {
    throw new Error(`tessera's native addon is not built (${file} is missing): run \`npm run setup\` in ${root}`);
  }
  return withFastProperties(createRequire(import.meta.url)(file) as NativeAddon);
}

// Node-API adds the entry points to the exports object one at a time, which leaves it in V8's
// dictionary mode, where every `native.x` is a hash lookup. V8 turns an object back into fast
// properties when it becomes a prototype; that is all this does.
function withFastProperties<T extends object>(o: T): T {
  function Holder(): void {}
  Holder.prototype = o;
  Reflect.construct(Holder, []);
  return o;
}

export const native: NativeAddon = load();
