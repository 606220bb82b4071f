// The job's store: the rendezvous store seen through the job's token (TESSERA_JOB_TOKEN, which
// `tessera run` sets for its workers). Every value is sealed (AES-256-GCM, the key name bound to
// it) under a key derived from the token, so a process that can reach the store's port but does
// not hold the token reads only ciphertext, and a record it writes is refused by name, not parsed.
import { randomBytes } from "node:crypto";
import { native as c10d } from "../_native.js";
import { Store } from "./store.js";

export const JOB_TOKEN_ENV = "TESSERA_JOB_TOKEN";
/** 128 bits as hex: shorter tokens can be guessed. */
const MIN_TOKEN_LENGTH = 32;

/** A fresh token: 256 random bits as hex. */
export function newJobToken(): string {
  return randomBytes(32).toString("hex");
}

/** Checks a token given by the user; `where` names its source in the error. */
export function checkJobToken(token: string, where: string): string {
  if (token.length < MIN_TOKEN_LENGTH || token.length > 1024 || !/^[\x21-\x7e]+$/.test(token))
    throw new Error(
      `${where}: a job token is ${MIN_TOKEN_LENGTH} to 1024 printable characters without spaces (e.g. \`openssl rand -hex 32\`), got ${token.length} characters`,
    );
  return token;
}

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
