// Special-token entries in tokenizer_config.json / special_tokens_map.json are either plain strings
// or serialized AddedToken objects ({"content": ..., "lstrip": ..., ...}).

export const SPECIAL_TOKEN_KEYS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] as const;
export type SpecialTokenKey = (typeof SPECIAL_TOKEN_KEYS)[number];

export function tokenContent(v: unknown): string | null {
  if (typeof v === "string") return v;
  if (v !== null && typeof v === "object" && typeof (v as { content?: unknown }).content === "string")
    return (v as { content: string }).content;
  return null;
}

export function tokenList(v: unknown): string[] {
  return Array.isArray(v) ? v.map(tokenContent).filter((t): t is string => t !== null) : [];
}
