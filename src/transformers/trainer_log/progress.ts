// A tqdm-style progress line for terminals: percentage, bar, steps, elapsed<remaining, rate.

/** 75 → "01:15", 3725 → "1:02:05". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  const two = (n: number) => String(n).padStart(2, "0");
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${two(m)}:${two(s % 60)}` : `${two(m)}:${two(s % 60)}`;
}

export function progressLine(step: number, total: number, elapsedS: number, width = 30): string {
  const frac = total > 0 ? Math.min(1, step / total) : 0;
  const filled = Math.round(frac * width);
  const rate = step / elapsedS;
  const eta = step > 0 ? (total - step) / rate : Number.NaN;
  const pct = `${Math.floor(frac * 100)}%`.padStart(4);
  return `${pct} |${"█".repeat(filled)}${" ".repeat(width - filled)}| ${step}/${total} [${formatDuration(elapsedS)}<${formatDuration(eta)}, ${step > 0 ? rate.toFixed(2) : "?"} step/s]`;
}
