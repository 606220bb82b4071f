// The handle an `async_op` collective returns: wait() blocks like PyTorch's; the Work is also a
// promise-like (`await work`, `work.promise`), whose wait runs off the main thread.
import { RuntimeError } from "../errors.js";
import type { NativeHandle } from "../_native.js";
import { native as c10d } from "../_native.js";
import { waitingOnPeers } from "./heartbeat.js";

export class Work implements PromiseLike<void> {
  private readonly h: NativeHandle | null;
  private readonly after: (() => void) | undefined;
  private finished = false;
  private pending: Promise<void> | undefined;
  private readonly what: string;

  /** @internal `after` runs once, when the collective finished (e.g. AVG's divide on Gloo). */
  constructor(h: NativeHandle | null, what: string, after?: () => void) {
    this.h = h;
    this.what = what;
    this.after = after;
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.after?.();
  }

  private fail(e: unknown): never {
    const msg = e instanceof Error ? e.message : String(e);
    throw new RuntimeError(`torch.distributed.${this.what} failed: ${msg}`);
  }

  /** Blocks until the collective finished (its error is thrown here); `timeout` in milliseconds. */
  wait(timeout?: number): boolean {
    const h = this.h;
    if (h !== null && !this.finished) {
      try {
        if (!waitingOnPeers(() => c10d.distWorkWait(h, timeout ?? -1))) return false;
      } catch (e) {
        this.fail(e);
      }
    }
    this.finish();
    return true;
  }

  is_completed(): boolean {
    return this.h === null || this.finished || c10d.distWorkIsCompleted(this.h);
  }

  /** Settles when the collective finished, without blocking the event loop. */
  get promise(): Promise<void> {
    if (this.pending === undefined) {
      this.pending =
        this.h === null || this.finished
          ? Promise.resolve().then(() => this.finish())
          : c10d.distWorkPromise(this.h).then(
              () => this.finish(),
              (e: unknown) => this.fail(e),
            );
    }
    return this.pending;
  }

  then<R1 = void, R2 = never>(
    onfulfilled?: ((value: void) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.promise.then(onfulfilled, onrejected);
  }
}
