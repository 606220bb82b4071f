// c10d key-value stores, PyTorch's classes: TCPStore, FileStore, PrefixStore. Ranks rendezvous
// through one; process groups exchange their connection details over it.
import type { NativeHandle } from "../_native.js";
import { native as c10d } from "../_native.js";
import { checkOptions } from "../_options.js";
import { waitingOnPeers } from "./heartbeat.js";

/** PyTorch's default store and process-group timeout: 30 minutes (PyTorch takes a timedelta). */
export const default_pg_timeout = 30 * 60_000;

export abstract class Store {
  /** @internal */
  readonly _h: NativeHandle;

  protected constructor(h: NativeHandle) {
    this._h = h;
  }

  set(key: string, value: string): void {
    c10d.distStoreSet(this._h, key, value);
  }

  /** Waits (up to the store's timeout) for `key` to be set, then returns its value. */
  get(key: string): string {
    return waitingOnPeers(() => c10d.distStoreGet(this._h, key));
  }

  /** Adds `amount` to the integer at `key` (created as 0) and returns the new value. */
  add(key: string, amount: number): number {
    return c10d.distStoreAdd(this._h, key, amount);
  }

  /** Waits until every key is set; `timeout` in milliseconds. */
  wait(keys: string[], timeout: number = default_pg_timeout): void {
    waitingOnPeers(() => c10d.distStoreWait(this._h, keys, timeout));
  }

  set_timeout(timeout: number): void {
    c10d.distStoreSetTimeout(this._h, timeout);
  }
}

export interface TCPStoreOptions {
  world_size?: number;
  is_master?: boolean;
  /** Milliseconds. */
  timeout?: number;
  wait_for_workers?: boolean;
}

export class TCPStore extends Store {
  readonly host: string;

  /** `new TCPStore(host, port, {world_size, is_master, timeout, wait_for_workers})`; port 0 picks a free one (master). */
  constructor(host: string, port: number, options: TCPStoreOptions = {}) {
    checkOptions("TCPStore.__init__", options, { world_size: true, is_master: true, timeout: true, wait_for_workers: true });
    const { world_size = -1, is_master = false, timeout = default_pg_timeout, wait_for_workers = true } = options;
    super(c10d.distTcpStore(host, port, is_master, world_size, timeout, wait_for_workers));
    this.host = host;
  }

  get port(): number {
    return c10d.distTcpStorePort(this._h);
  }
}

export class FileStore extends Store {
  constructor(file_name: string, world_size = -1, timeout: number = default_pg_timeout) {
    super(c10d.distFileStore(file_name, world_size, timeout));
  }
}

export class PrefixStore extends Store {
  readonly underlying_store: Store;

  constructor(prefix: string, store: Store) {
    super(c10d.distPrefixStore(prefix, store._h));
    this.underlying_store = store;
  }
}
