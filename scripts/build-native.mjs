// Builds build/native/tessera.node from native/src/*.cc with the compiler directly (node-gyp would
// try to download Node's headers; this works offline and on the GPU machines too). Incremental:
// an object is rebuilt only when its source, a header it includes, or the flags changed.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { findTorch, root } from "./torch-env.mjs";

const srcDir = path.join(root, "native", "src");
const outDir = path.join(root, "build", "native");
const objDir = path.join(outDir, "obj");
export const addonPath = path.join(outDir, "tessera.node");

function nodeApiInclude() {
  if (process.env.NODE_API_INCLUDE) return process.env.NODE_API_INCLUDE;
  const dir = path.join(path.dirname(process.execPath), "..", "include", "node");
  if (existsSync(path.join(dir, "node_api.h"))) return dir;
  throw new Error(`Node-API headers not found (looked in ${dir}); set NODE_API_INCLUDE`);
}

// NCCL's header ships in the nvidia-nccl Python package beside a CUDA torch.
function ncclInclude(torchDir) {
  const candidates = [
    process.env.NCCL_INCLUDE,
    path.join(torchDir, "..", "nvidia", "nccl", "include"),
    "/usr/include",
    "/usr/local/cuda/include",
  ].filter(Boolean);
  return candidates.find((d) => existsSync(path.join(d, "nccl.h"))) ?? null;
}

function flagsFor(torch) {
  const inc = path.join(torch.dir, "include");
  const defines = [
    `-D_GLIBCXX_USE_CXX11_ABI=${torch.abi}`,
    "-DNAPI_EXPERIMENTAL",
    "-DNODE_GYP_MODULE_NAME=tessera",
    `-DTESSERA_TORCH_VERSION="${torch.version}"`,
  ];
  const includes = [`-I${inc}`, `-I${path.join(inc, "torch", "csrc", "api", "include")}`, `-I${nodeApiInclude()}`];
  if (existsSync("/usr/include/gloo")) defines.push("-DUSE_C10D_GLOO");
  if (torch.cuda) {
    defines.push("-DTESSERA_CUDA");
    const nccl = ncclInclude(torch.dir);
    if (nccl) {
      defines.push("-DUSE_C10D_NCCL");
      includes.push(`-I${nccl}`);
    }
  }
  const cxx = ["-std=c++20", "-O2", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wno-unused-parameter", ...defines, ...includes];
  const libDir = path.join(torch.dir, "lib");
  const libs = ["-ltorch", "-ltorch_cpu", "-lc10"];
  if (torch.cuda) libs.push("-ltorch_cuda", "-lc10_cuda");
  const link = ["-shared", `-L${libDir}`, "-Wl,--no-as-needed", ...libs, "-Wl,--as-needed", `-Wl,-rpath,${libDir}`, "-pthread"];
  return { cxx, link };
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "inherit", "inherit"] });
    p.on("error", reject);
    p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}`))));
  });
}

// Dependencies recorded by -MMD: "obj.o: src.cc a.h b.h".
function depsOf(depFile) {
  if (!existsSync(depFile)) return null;
  const text = readFileSync(depFile, "utf8").replace(/\\\n/g, " ");
  return text
    .slice(text.indexOf(":") + 1)
    .trim()
    .split(/\s+/)
    .filter(Boolean);
}

function stale(obj, depFile, flagsHashFile, flagsHash) {
  if (!existsSync(obj) || !existsSync(flagsHashFile) || readFileSync(flagsHashFile, "utf8") !== flagsHash) return true;
  const deps = depsOf(depFile);
  if (!deps) return true;
  const t = statSync(obj).mtimeMs;
  return deps.some((d) => !existsSync(d) || statSync(d).mtimeMs > t);
}

async function pool(jobs, width) {
  let next = 0;
  const workers = Array.from({ length: Math.min(width, jobs.length) }, async () => {
    while (next < jobs.length) await jobs[next++]();
  });
  await Promise.all(workers);
}

// Several processes (parallel test set-ups, developers' shells) may build at once: one at a time.
async function withLock(fn) {
  const lock = path.join(outDir, ".lock");
  mkdirSync(outDir, { recursive: true });
  for (let waited = 0; ; waited += 200) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 15 * 60_000) rmSync(lock, { recursive: true, force: true });
      if (waited > 20 * 60_000) throw new Error(`timed out waiting for ${lock}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export function buildNative(options = {}) {
  return withLock(() => build(options));
}

async function build({ quiet = false } = {}) {
  const torch = findTorch();
  if (!torch) throw new Error("libtorch not found: set LIBTORCH or TESSERA_PYTHON, or run `npm run setup` to install torch into .venv");
  const { cxx, link } = flagsFor(torch);
  const cxxPath = process.env.CXX || "g++";
  const flagsHash = createHash("sha256")
    .update(JSON.stringify([cxxPath, cxx, link]))
    .digest("hex");
  mkdirSync(objDir, { recursive: true });
  const sources = readdirSync(srcDir)
    .filter((f) => f.endsWith(".cc"))
    .sort();
  const objects = [];
  const jobs = [];
  for (const src of sources) {
    const base = src.replace(/\.cc$/, "");
    const obj = path.join(objDir, `${base}.o`);
    const dep = path.join(objDir, `${base}.d`);
    const hashFile = path.join(objDir, `${base}.flags`);
    objects.push(obj);
    if (!stale(obj, dep, hashFile, flagsHash)) continue;
    jobs.push(async () => {
      if (!quiet) console.log(`[tessera] compiling native/src/${src}`);
      await run(cxxPath, [...cxx, "-MMD", "-MF", dep, "-c", path.join(srcDir, src), "-o", obj]);
      writeFileSync(hashFile, flagsHash);
    });
  }
  const width = Number(process.env.TESSERA_BUILD_JOBS) || Math.max(1, os.cpus().length);
  await pool(jobs, width);
  const linkNeeded = jobs.length > 0 || !existsSync(addonPath) || objects.some((o) => statSync(o).mtimeMs > statSync(addonPath).mtimeMs);
  if (linkNeeded) {
    if (!quiet) console.log("[tessera] linking build/native/tessera.node");
    const tmp = `${addonPath}.tmp`;
    await run(cxxPath, [...objects, ...link, "-o", tmp]);
    renameSync(tmp, addonPath);
  }
  writeFileSync(path.join(outDir, "torch.json"), JSON.stringify(torch, null, 2));
  return { torch, rebuilt: linkNeeded };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildNative().catch((e) => {
    console.error(`[tessera] native build failed: ${e.message}`);
    process.exit(1);
  });
}
