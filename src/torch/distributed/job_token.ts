// The job's token (TESSERA_JOB_TOKEN): made by `tessera run`, checked when a user gives one. Apart
// from job_store.ts so that the launcher reads it without loading libtorch.
import { randomBytes } from "node:crypto";

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
