// Tensor printing as PyTorch's torch/_tensor_str.py does it (default print options: precision 4,
// threshold 1000, edgeitems 3, linewidth 80), so logs read the same in both languages.
import type { Tensor } from "./tensor.js";
import { get_default_dtype } from "./dtype.js";

const PRECISION = 4;
const THRESHOLD = 1000;
const EDGEITEMS = 3;
const LINEWIDTH = 80;

// Python's "{:.Nf}" and "{:.Ne}" round an exact tie to the even digit, where JS's toFixed and
// toExponential round it away from zero: -129887.65625 is "-129887.6562" in Python. A tie needs a
// short exact decimal expansion, which toFixed(100) spells out in full.
// The exact decimal digits of `a` (>= 0) without the point, and the point's index among them.
function exactDigits(a: number): { digits: string; point: number } {
  const exact = a < 1e21 ? a.toFixed(100) : `${BigInt(a)}.0`;
  const point = exact.indexOf(".");
  return { digits: exact.slice(0, point) + exact.slice(point + 1), point };
}

// With `digits` the exact expansion's digits (no point), whether cutting after index `end` is a
// tie whose last kept digit is even: then Python keeps the cut digits as they are.
function tieToEven(digits: string, end: number): boolean {
  return /^50*$/.test(digits.slice(end)) && Number(digits[end - 1] ?? "0") % 2 === 0;
}

function sign(v: number): string {
  return v < 0 || Object.is(v, -0) ? "-" : "";
}

function pyFixed(v: number, decimals: number): string {
  const a = Math.abs(v);
  const { digits, point } = exactDigits(a);
  if (!tieToEven(digits, point + decimals)) return sign(v) + a.toFixed(decimals);
  const kept = digits.slice(0, point + decimals);
  return sign(v) + (decimals > 0 ? `${kept.slice(0, point)}.${kept.slice(point)}` : kept);
}

// Python's "{:.Ne}", which also writes at least two exponent digits.
function pyExp(v: number, decimals: number): string {
  const a = Math.abs(v);
  let s = a.toExponential(decimals);
  if (a !== 0) {
    const { digits, point } = exactDigits(a);
    const first = digits.search(/[1-9]/);
    if (tieToEven(digits, first + decimals + 1)) {
      const kept = digits.slice(first, first + decimals + 1);
      const exponent = point - first - 1;
      s = `${kept[0]}${decimals > 0 ? `.${kept.slice(1)}` : ""}e${exponent < 0 ? "-" : "+"}${Math.abs(exponent)}`;
    }
  }
  return sign(v) + s.replace(/e([+-])(\d)$/, "e$10$2");
}

function pyFloat(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (v === Infinity) return "inf";
  if (v === -Infinity) return "-inf";
  return "";
}

class Formatter {
  private intMode = true;
  private sciMode = false;
  maxWidth = 1;

  constructor(
    values: number[],
    private readonly floating: boolean,
  ) {
    if (!floating) {
      for (const v of values) this.maxWidth = Math.max(this.maxWidth, String(v).length);
      return;
    }
    const finite = values.filter((v) => Number.isFinite(v) && v !== 0);
    if (finite.length === 0) return;
    const abs = finite.map(Math.abs);
    const min = Math.min(...abs);
    const max = Math.max(...abs);
    this.intMode = finite.every((v) => Math.ceil(v) === v);
    if (this.intMode) {
      if (max / min > 1000 || max > 1e8) {
        this.sciMode = true;
        for (const v of finite) this.maxWidth = Math.max(this.maxWidth, pyExp(v, PRECISION).length);
      } else {
        for (const v of finite) this.maxWidth = Math.max(this.maxWidth, pyFixed(v, 0).length + 1);
      }
    } else if (max / min > 1000 || max > 1e8 || min < 1e-4) {
      this.sciMode = true;
      for (const v of finite) this.maxWidth = Math.max(this.maxWidth, pyExp(v, PRECISION).length);
    } else {
      for (const v of finite) this.maxWidth = Math.max(this.maxWidth, pyFixed(v, PRECISION).length);
    }
  }

  format(v: number | boolean): string {
    let s: string;
    if (typeof v === "boolean") s = v ? "True" : "False";
    else if (!this.floating) s = String(v);
    else if (!Number.isFinite(v)) s = pyFloat(v);
    else if (this.sciMode) s = pyExp(v, PRECISION);
    else if (this.intMode) s = `${pyFixed(v, 0)}.`;
    else s = pyFixed(v, PRECISION);
    return s.padStart(this.maxWidth);
  }

  width(v: number | boolean): number {
    return Math.max(this.maxWidth, this.format(v).length);
  }
}

type Nested = number | boolean | Nested[];

// The elements that will be printed: with more than THRESHOLD elements, only EDGEITEMS at each end.
function edge(list: Nested[], summarize: boolean): Nested[] {
  return summarize && list.length > 2 * EDGEITEMS ? [...list.slice(0, EDGEITEMS), ...list.slice(-EDGEITEMS)] : list;
}

function shown(data: Nested, summarize: boolean, out: (number | boolean)[]): void {
  if (!Array.isArray(data)) {
    out.push(data);
    return;
  }
  for (const d of edge(data, summarize)) shown(d, summarize, out);
}

function vectorStr(data: Nested[], indent: number, fmt: Formatter, summarize: boolean): string {
  const elementLength = fmt.maxWidth + 2;
  const perLine = Math.max(Math.floor((LINEWIDTH - indent) / elementLength), 1);
  const items =
    summarize && data.length > 2 * EDGEITEMS
      ? [
          ...data.slice(0, EDGEITEMS).map((v) => fmt.format(v as number)),
          " ...",
          ...data.slice(-EDGEITEMS).map((v) => fmt.format(v as number)),
        ]
      : data.map((v) => fmt.format(v as number));
  const lines: string[] = [];
  for (let i = 0; i < items.length; i += perLine) lines.push(items.slice(i, i + perLine).join(", "));
  return `[${lines.join(`,\n${" ".repeat(indent + 1)}`)}]`;
}

function tensorStr(data: Nested, ndim: number, indent: number, fmt: Formatter, summarize: boolean): string {
  if (ndim === 0) return fmt.format(data as number);
  const list = data as Nested[];
  if (ndim === 1) return vectorStr(list, indent, fmt, summarize);
  const sep = `,${"\n".repeat(ndim - 1)}${" ".repeat(indent + 1)}`;
  const parts =
    summarize && list.length > 2 * EDGEITEMS
      ? [
          ...list.slice(0, EDGEITEMS).map((d) => tensorStr(d, ndim - 1, indent + 1, fmt, summarize)),
          "...",
          ...list.slice(-EDGEITEMS).map((d) => tensorStr(d, ndim - 1, indent + 1, fmt, summarize)),
        ]
      : list.map((d) => tensorStr(d, ndim - 1, indent + 1, fmt, summarize));
  return `[${parts.join(sep)}]`;
}

// Appends `, suffix` items and the closing parenthesis, starting a new line for an item that would
// pass the line width (Python's _add_suffixes).
function addSuffixes(text: string, suffixes: string[], indent: number): string {
  let out = text;
  let lastLineLength = text.length - text.lastIndexOf("\n") + 1;
  for (const suffix of suffixes) {
    if (lastLineLength + suffix.length + 2 > LINEWIDTH) {
      out += `,\n${" ".repeat(indent)}${suffix}`;
      lastLineLength = indent + suffix.length;
    } else {
      out += `, ${suffix}`;
      lastLineLength += suffix.length + 2;
    }
  }
  return `${out})`;
}

export function formatTensor(t: Tensor): string {
  if (t.is_disposed) return "tensor(<disposed>)";
  const prefix = "tensor(";
  const indent = prefix.length;
  const dt = t.dtype;
  const suffixes: string[] = [];
  const shape = t.shape;
  const numel = t.numel();
  if (t.device.type !== "cpu") suffixes.push(`device='${t.device}'`);
  const defaultDtype = get_default_dtype();
  let body: string;
  if (numel === 0 && shape.length > 0) {
    body = "[]";
    if (shape.length !== 1) suffixes.push(`size=(${shape.join(", ")})`);
    // No elements to infer an integer dtype from, so only the default dtype goes unsaid.
    if (dt !== defaultDtype) suffixes.push(`dtype=torch.${dt.name}`);
  } else {
    const summarize = numel > THRESHOLD;
    const data = t.detach().cpu().tolist();
    const vals: (number | boolean)[] = [];
    shown(data, summarize, vals);
    const fmt = new Formatter(vals as number[], dt.is_floating_point);
    body = tensorStr(data, shape.length, indent, fmt, summarize);
    if (dt !== defaultDtype && dt.name !== "int64" && dt.name !== "bool") suffixes.push(`dtype=torch.${dt.name}`);
  }
  const fn = t.grad_fn;
  if (fn !== null) suffixes.push(`grad_fn=<${fn.name()}>`);
  else if (t.requires_grad) suffixes.push("requires_grad=True");
  return addSuffixes(prefix + body, suffixes, indent);
}
