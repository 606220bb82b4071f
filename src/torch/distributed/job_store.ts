// The job's store: the rendezvous store seen through the job's token (TESSERA_JOB_TOKEN, which
// `tessera run` sets for its workers). Every value is sealed (AES-256-GCM, the key name bound to
// it) under a key derived from the token, so a process that can reach the store's port but does
// not hold the token reads only ciphertext, and a record it writes is refused by name, not parsed.
import { native as c10d } from "../_native.js";
import { checkJobToken, JOB_TOKEN_ENV } from "./job_token.js";
import { Store } from "./store.js";

class SealedStore extends Store {
  readonly underlying_store: Store;

  constructor(token: string, store: Store) {
    super(c10d.distSealedStore(token, store._h));
    this.underlying_store = store;
  }
}

/** `store` sealed with the job's token when there is one (TESSERA_JOB_TOKEN), else `store` itself. */
export function jobStore(store: Store, token: string | undefined = process.env[JOB_TOKEN_ENV]): Store {
  if (token === undefined || token === "") return store;
  return new SealedStore(checkJobToken(token, JOB_TOKEN_ENV), store);
}
