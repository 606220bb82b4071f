// The native c10d entry points (native/src/distributed.cc), typed. Handles are opaque externals
// owned by the JS objects that hold them.
import { native, type NativeHandle, type TensorRef } from "../_native.js";
import type { Tensor } from "../tensor.js";

export interface C10dAddon {
  distTcpStore(host: string, port: number, isServer: boolean, worldSize: number, timeoutMs: number, waitWorkers: boolean): NativeHandle;
  distTcpStorePort(store: NativeHandle): number;
  distFileStore(path: string, worldSize: number, timeoutMs: number): NativeHandle;
  distPrefixStore(prefix: string, store: NativeHandle): NativeHandle;
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

export const c10d = native as unknown as C10dAddon;
