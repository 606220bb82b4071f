// JS functions that libtorch's autograd engine calls back (custom Function backward, tensor
// hooks). Native code holds only an integer id; it reports ids whose owner died, and they are
// dropped here on the next registration, so a closure lives exactly as long as its graph node.
import { native } from "./_native.js";

type Callback = (tensors: unknown[]) => unknown;

const callbacks = new Map<number, Callback>();
let nextId = 1;

// Tensors a callback returned that JS no longer needs once native code has them (it holds its own
// references): their handles are disposed before the next callback runs and when backward ends,
// rather than whenever V8 collects them, which in a training step is long after.
let handedOver: Array<{ dispose(): void }> = [];

/** Marks tensors a callback returns as native code's alone once it has them (disposed soon after). */
export function handOver(tensors: Array<{ dispose(): void }>): void {
  handedOver.push(...tensors);
}

function releaseHandedOver(): void {
  const ts = handedOver;
  handedOver = [];
  for (const t of ts) t.dispose();
}

native.setCallbackRunner((id, tensors) => {
  releaseHandedOver();
  const fn = callbacks.get(id);
  if (fn === undefined) throw new Error(`autograd callback ${id} was released`);
  return fn(tensors);
});

export function releaseDeadCallbacks(): void {
  releaseHandedOver();
  for (const id of native.takeReleasedCallbacks()) callbacks.delete(id);
}

export function registerCallback(fn: Callback): number {
  releaseDeadCallbacks();
  const id = nextId++;
  callbacks.set(id, fn);
  return id;
}

/** For a callback that native code never took ownership of. */
export function dropCallback(id: number): void {
  callbacks.delete(id);
}

export function liveCallbackCount(): number {
  releaseDeadCallbacks();
  return callbacks.size;
}
