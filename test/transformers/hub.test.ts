// Hub ids: from_pretrained("org/name") downloads into the Hugging Face cache from HF_ENDPOINT (a
// local server in the hub's URL layout, helpers/hub_server.ts) and then loads from the cache alone;
// the cache's layout is huggingface_hub's (Python finds the snapshot offline); revisions, offline
// mode and the errors. The download runs in a child process, so the server runs in another.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, lstatSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { torch } from "../../src/index.js";
import {
  AutoModelForCausalLM,
  AutoTokenizer,
  LlamaConfig,
  LlamaForCausalLM,
  cached_snapshot,
  repo_folder,
} from "../../src/transformers/index.js";
import { assertClose, repoRoot, runPython } from "../helpers/oracle.js";
import { tempDir } from "./helpers/batch.js";

const REPO = "tiny-org/tiny-llama";
const SHA = "0123456789abcdef0123456789abcdef01234567";
const root = tempDir("hub");
const source = path.join(root, "source");
const hfHome = path.join(root, "hf_home");
const env = {
  HF_HOME: process.env.HF_HOME,
  HF_ENDPOINT: process.env.HF_ENDPOINT,
  HF_HUB_CACHE: process.env.HF_HUB_CACHE,
  HF_HUB_OFFLINE: process.env.HF_HUB_OFFLINE,
};
let server: ChildProcess | null = null;
let requests: string[] = [];

torch.manual_seed(0);
const model = LlamaForCausalLM.from_config(
  new LlamaConfig({
    hidden_size: 32,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 2,
    vocab_size: 128,
    intermediate_size: 64,
    pad_token_id: 0,
  }),
);
const ids = torch.tensor([[1, 5, 9, 3]], { dtype: torch.int64 });
const reference = torch.no_grad(() => model(ids).logits);

function startServer(): Promise<number> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      path.join(repoRoot, "test/transformers/helpers/hub_server.ts"),
      JSON.stringify({ [REPO]: { dir: source, sha: SHA } }),
    ],
    { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] },
  );
  server = child;
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    let port: number | null = null;
    lines.on("line", (l) => {
      if (port === null) resolve((port = Number(l)));
      else requests.push(l);
    });
    child.on("exit", (code) => port === null && reject(new Error(`hub server exited ${code}`)));
  });
}

async function stopServer(): Promise<void> {
  if (server === null) return;
  const s = server;
  server = null;
  await new Promise<void>((resolve) => {
    s.on("exit", () => resolve());
    s.kill();
  });
}

before(async () => {
  model.save_pretrained(source);
  for (const f of ["tokenizer.json", "tokenizer_config.json"])
    copyFileSync(path.join(repoRoot, "examples/finetune/config", f), path.join(source, f));
  const port = await startServer();
  process.env.HF_HOME = hfHome;
  process.env.HF_ENDPOINT = `http://127.0.0.1:${port}`;
  delete process.env.HF_HUB_CACHE;
  delete process.env.HF_HUB_OFFLINE;
});

after(async () => {
  await stopServer();
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(root, { recursive: true, force: true });
});

/** The server's request log once it holds `line` (its stdout arrives after the synchronous download returns). */
async function requestLog(line: string): Promise<string[]> {
  for (let i = 0; i < 100 && !requests.includes(line); i++) await new Promise((r) => setTimeout(r, 50));
  return requests;
}

test("from_pretrained(hub id) downloads into HF_HOME's cache in the hub's layout and loads the same model", async () => {
  const loaded = AutoModelForCausalLM.from_pretrained(REPO);
  assertClose(
    torch.no_grad(() => loaded(ids).logits),
    reference,
  );
  const repo = repo_folder(REPO);
  assert.equal(repo, path.join(hfHome, "hub", "models--tiny-org--tiny-llama"));
  assert.equal(readFileSync(path.join(repo, "refs", "main"), "utf8"), SHA);
  const snapshot = path.join(repo, "snapshots", SHA);
  assert.equal(cached_snapshot(REPO), snapshot);
  for (const f of ["config.json", "model.safetensors", "tokenizer.json"]) {
    const link = path.join(snapshot, f);
    assert.ok(lstatSync(link).isSymbolicLink(), `${f} is a link into blobs/`);
    assert.match(readlinkSync(link), /^\.\.\/\.\.\/blobs\/[0-9a-f]{40,64}$/);
    assert.deepEqual(readFileSync(link), readFileSync(path.join(source, f)));
  }
  const log = await requestLog(`GET /lfs/${REPO}/resolve/${SHA}/model.safetensors`);
  assert.ok(log.includes(`GET /api/models/${REPO}/revision/main`), `the revision's file list was asked for: ${log.join(", ")}`);
  assert.ok(log.includes(`GET /${REPO}/resolve/${SHA}/config.json`), `files are fetched at the commit: ${log.join(", ")}`);
  assert.ok(log.includes(`GET /lfs/${REPO}/resolve/${SHA}/model.safetensors`), `the LFS redirect was followed: ${log.join(", ")}`);
  // Python's huggingface_hub and transformers find the snapshot offline: the layout is theirs.
  const py = runPython(`
import os
os.environ["HF_HUB_OFFLINE"] = "1"
from huggingface_hub import snapshot_download
from transformers import AutoConfig
out["snapshot"] = snapshot_download(${JSON.stringify(REPO)}, cache_dir=${JSON.stringify(path.join(hfHome, "hub"))}, local_files_only=True)
out["hidden"] = AutoConfig.from_pretrained(${JSON.stringify(REPO)}, cache_dir=${JSON.stringify(path.join(hfHome, "hub"))}, local_files_only=True).hidden_size
`);
  assert.equal(py.snapshot, snapshot);
  assert.equal(py.hidden, 32);
});

test("AutoTokenizer.from_pretrained(hub id) and a revision given by its commit", () => {
  const tok = AutoTokenizer.from_pretrained(REPO, { revision: SHA });
  const direct = AutoTokenizer.from_pretrained(source);
  assert.deepEqual(tok.encode("upper: kesw"), direct.encode("upper: kesw"));
  assert.ok(tok.encode("upper: kesw").length > 0);
});

test("with the hub gone: local_files_only and HF_HUB_OFFLINE load from the cache; an unreachable hub falls back to it; what is not cached is a clear error", async () => {
  await stopServer();
  requests = [];
  assertClose(
    torch.no_grad(() => AutoModelForCausalLM.from_pretrained(REPO, { local_files_only: true })(ids).logits),
    reference,
  );
  process.env.HF_HUB_OFFLINE = "1";
  try {
    assertClose(
      torch.no_grad(() => LlamaForCausalLM.from_pretrained(REPO)(ids).logits),
      reference,
    );
    assert.throws(
      () => AutoModelForCausalLM.from_pretrained("tiny-org/absent"),
      /tiny-org\/absent is not a folder, and revision main of the hub model tiny-org\/absent is not in the Hugging Face cache .*hf_home\/hub \(offline: HF_HUB_OFFLINE/,
    );
  } finally {
    delete process.env.HF_HUB_OFFLINE;
  }
  assert.throws(
    () => AutoTokenizer.from_pretrained(REPO, { revision: "v2", local_files_only: true }),
    /revision v2 of the hub model tiny-org\/tiny-llama is not in the Hugging Face cache/,
  );
  // Online but the hub does not answer: the cached snapshot stands in, with a warning.
  const warned: string[] = [];
  const onWarning = (w: Error): void => void warned.push(w.message);
  process.on("warning", onWarning);
  try {
    assertClose(
      torch.no_grad(() => AutoModelForCausalLM.from_pretrained(REPO)(ids).logits),
      reference,
    );
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off("warning", onWarning);
  }
  assert.ok(
    warned.some((m) => /cannot reach .*; using the cached snapshot/.test(m)),
    warned.join("\n"),
  );
  assert.throws(
    () => AutoModelForCausalLM.from_pretrained("tiny-org/other"),
    /tiny-org\/other is not a folder, and its download into .* failed: .*cannot reach/,
  );
  assert.throws(() => AutoModelForCausalLM.from_pretrained("./no/such/folder"), /\.\/no\/such\/folder is not a folder, nor a hub id/);
  assert.equal(requests.length, 0);
  assert.ok(!existsSync(path.join(repo_folder("tiny-org/other"), "snapshots")), "a failed download leaves no snapshot");
});
