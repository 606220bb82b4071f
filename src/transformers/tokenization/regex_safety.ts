// tokenizer.json's regexes (Split pre-tokenizers, Replace normalizers and decoders) run on JS's
// backtracking engine. A pattern that repeats a group which itself repeats or alternates, such as
// (a+)+$ or (a|a)*$, can take time exponential in the input; a tokenizer file is refused when one
// of its patterns has that shape. The patterns of real tokenizers (GPT-2's, Llama 3's, Qwen2's)
// repeat only single atoms and character classes, so they pass.

/** Whether `pattern` repeats, without bound, a group that contains unbounded repetition or alternation. */
export function hasNestedRepetition(pattern: string): boolean {
  // For each open group: whether it holds an unbounded quantifier or a "|".
  const risky: boolean[] = [false];
  let lastGroupRisky = false;
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i];
    if (c === "\\") {
      // An escape; \p{...}, \u{...} and \x{...} carry braces that are not quantifiers.
      i += /[pPux]/.test(pattern[i + 1] ?? "") && pattern[i + 2] === "{" ? pattern.indexOf("}", i) + 1 || pattern.length : 2;
      lastGroupRisky = false;
    } else if (c === "[") {
      i++;
      if (pattern[i] === "^") i++;
      if (pattern[i] === "]") i++;
      while (i < pattern.length && pattern[i] !== "]") i += pattern[i] === "\\" ? 2 : 1;
      i++;
      lastGroupRisky = false;
    } else if (c === "(") {
      risky.push(false);
      i++;
      lastGroupRisky = false;
    } else if (c === ")") {
      lastGroupRisky = risky.length > 1 ? risky.pop()! : false;
      if (lastGroupRisky) risky[risky.length - 1] = true;
      i++;
    } else if (c === "*" || c === "+" || (c === "{" && /^\{\d*,\}/.test(pattern.slice(i)))) {
      if (lastGroupRisky) return true;
      risky[risky.length - 1] = true;
      i = c === "{" ? pattern.indexOf("}", i) + 1 : i + 1;
      lastGroupRisky = false;
    } else {
      if (c === "|") risky[risky.length - 1] = true;
      // "?" and bounded {n,m} repeat at most a fixed number of times.
      i = c === "{" ? Math.max(i + 1, pattern.indexOf("}", i) + 1) : i + 1;
      lastGroupRisky = false;
    }
  }
  return false;
}

/** Throws when a regex in the tokenizer.json sections that run on text (not the vocabulary) nests repetition. */
export function checkTokenizerRegexes(json: Record<string, unknown>, file: string): void {
  const visit = (v: unknown, where: string): void => {
    if (v === null || typeof v !== "object") return;
    if (Array.isArray(v)) return v.forEach((x, i) => visit(x, `${where}[${i}]`));
    for (const [k, x] of Object.entries(v)) {
      if (k === "Regex" && typeof x === "string" && hasNestedRepetition(x)) {
        throw new Error(
          `${file}: the regex ${JSON.stringify(x)} at ${where} repeats a group that repeats or alternates, which can take time exponential in the text's length; refused`,
        );
      }
      visit(x, `${where}.${k}`);
    }
  };
  for (const section of ["normalizer", "pre_tokenizer", "post_processor", "decoder"]) visit(json[section], section);
}
