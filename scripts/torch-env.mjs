// Finds the libtorch to build and run against, as ARCHITECTURE.md decides: LIBTORCH (a folder with
// include/ and lib/), else the torch package of TESSERA_PYTHON, else of the project's .venv, else of
// python3. Returns null when none has torch.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const venvPython = path.join(root, ".venv", "bin", "python");

const probe = [
  "import os, torch",
  "print(os.path.dirname(torch.__file__))",
  "print(int(torch._C._GLIBCXX_USE_CXX11_ABI))",
  "print(torch.__version__)",
  "print(torch.version.cuda or '')",
].join("; ");

export function pythonCandidates() {
  const out = [];
  if (process.env.TESSERA_PYTHON) out.push(process.env.TESSERA_PYTHON);
  if (existsSync(venvPython)) out.push(venvPython);
  out.push("python3");
  return out;
}

function fromPython(python) {
  try {
    const text = execFileSync(python, ["-c", probe], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const [dir, abi, version, cuda] = text.trim().split("\n");
    return { dir, abi: Number(abi), version, cuda: cuda || null, python };
  } catch {
    return null;
  }
}

export function findTorch() {
  const lib = process.env.LIBTORCH;
  if (lib) {
    if (!existsSync(path.join(lib, "include")) || !existsSync(path.join(lib, "lib")))
      throw new Error(`LIBTORCH=${lib} has no include/ and lib/ folders`);
    const versionFile = path.join(lib, "build-version");
    const version = existsSync(versionFile) ? readFileSync(versionFile, "utf8").trim() : "unknown";
    const abi = process.env.TESSERA_CXX11_ABI === undefined ? 1 : Number(process.env.TESSERA_CXX11_ABI);
    const cuda = existsSync(path.join(lib, "lib", "libtorch_cuda.so")) ? "unknown" : null;
    return { dir: lib, abi, version, cuda, python: null };
  }
  for (const python of pythonCandidates()) {
    const found = fromPython(python);
    if (found) return found;
  }
  return null;
}
