// Everything a fresh clone needs before it runs, each step skipped when already done:
//   torch (CPU wheel) into .venv when no libtorch is found; with --test, the Python test oracles too
//   Debian's libgloo-dev (c10d's Gloo headers)
//   npm dependencies
//   the native addon (incremental) and the generated op surface
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { findTorch, root, venvPython } from "./torch-env.mjs";
import { addonPath, buildNative } from "./build-native.mjs";

const TORCH_SPEC = "torch==2.13.0+cpu";
const ORACLES = ["numpy", "transformers", "tokenizers", "safetensors", "sentencepiece", "peft", "accelerate"];
const wantOracles = process.argv.includes("--test");

function log(msg) {
  console.log(`[tessera setup] ${msg}`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status})`);
}

function pipInstall(packages) {
  if (!existsSync(venvPython)) {
    log("creating .venv");
    run("python3", ["-m", "venv", path.join(root, ".venv")]);
  }
  log(`pip install ${packages.join(" ")} (into .venv)`);
  run(venvPython, ["-m", "pip", "install", "--quiet", ...packages], { env: { ...process.env, PIP_RETRIES: "0" } });
}

function pythonHas(modules) {
  if (!existsSync(venvPython)) return false;
  const r = spawnSync(venvPython, ["-c", `import ${modules.join(", ")}`], { stdio: "ignore" });
  return r.status === 0;
}

function ensureTorch() {
  const torch = findTorch();
  if (torch) return torch;
  pipInstall([TORCH_SPEC]);
  const found = findTorch();
  if (!found) throw new Error("torch was installed into .venv but cannot be imported");
  return found;
}

function ensureOracles() {
  const modules = ORACLES.map((m) => m.replace(/-/g, "_"));
  if (pythonHas(["torch", ...modules])) return;
  // The oracles must sit beside the torch the addon uses: the project's .venv.
  pipInstall([...(pythonHas(["torch"]) ? [] : [TORCH_SPEC]), ...ORACLES]);
}

function ensureGloo() {
  if (existsSync("/usr/include/gloo")) return;
  const [cmd, pre] = process.getuid?.() === 0 ? ["apt-get", []] : ["sudo", ["-n", "apt-get"]];
  const apt = (args) =>
    execFileSync(cmd, [...pre, ...args], {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  try {
    log("installing libgloo-dev (Gloo headers for c10d)");
    apt(["update", "-qq"]);
    apt(["install", "-y", "-qq", "libgloo-dev"]);
  } catch (e) {
    log(`warning: could not install libgloo-dev (${e.message}); torch.distributed's Gloo backend will be unavailable`);
  }
}

function ensureNpm() {
  const marker = path.join(root, "node_modules", ".package-lock.json");
  const lock = path.join(root, "package-lock.json");
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  log("installing npm dependencies");
  run("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root });
}

async function ensureGenerated() {
  const stamp = path.join(root, "src", "torch", "_generated", ".stamp");
  const gen = path.join(root, "scripts", "gen-ops.mjs");
  const inputs = [addonPath, gen, path.join(root, "src", "torch", "tensor.ts"), path.join(root, "src", "torch", "indexing.ts")];
  const newest = Math.max(...inputs.map((f) => statSync(f).mtimeMs));
  if (existsSync(stamp) && Number(readFileSync(stamp, "utf8")) >= newest) return;
  // Imported here, not at the top: the generator parses with TypeScript, which ensureNpm installs.
  const { generate } = await import("./gen-ops.mjs");
  const r = generate();
  log(`generated ${r.functions} torch functions, ${r.methods} Tensor methods and ${r.own} tessera op(s)`);
  mkdirSync(path.dirname(stamp), { recursive: true });
  writeFileSync(stamp, String(newest));
}

export async function setup() {
  ensureTorch();
  if (wantOracles) ensureOracles();
  ensureGloo();
  ensureNpm();
  await buildNative({ quiet: false });
  await ensureGenerated();
}

setup().catch((e) => {
  console.error(`[tessera setup] failed: ${e.message}`);
  process.exit(1);
});
