// Keyword arguments, strictly. A trailing options object stands for Python's keyword arguments, and
// Python rejects a name a function does not declare (`Linear(3, 2, bais=False)` is a TypeError), so a
// misspelt option must not pass silently here either. Every hand-written public function with options
// checks them with `checkOptions`, against a names record the compiler holds equal to the options type.
import { NotImplementedError } from "./errors.js";

/**
 * The option names of `T`, each once. Written as an object literal, the compiler checks it both ways:
 * a name `T` lacks is an excess property, a name `T` has but the record lacks is a missing one.
 */
export type OptionNames<T> = { readonly [K in keyof Required<T>]: true };

/**
 * Throws Python's TypeError, `<where>() got an unexpected keyword argument '<name>'`, for the first
 * own key of `opts` that `names` lacks. `where` is Python's qualified name (`Linear.__init__`,
 * `cross_entropy`). A non-object `opts` (absent, or a positional shorthand) is left to the caller.
 */
export function checkOptions<T extends object>(where: string, opts: T | null | undefined, names: OptionNames<NoInfer<T>>): void {
  if (typeof opts !== "object" || opts === null) return;
  for (const k of Object.keys(opts)) {
    if (!Object.hasOwn(names, k)) throw new TypeError(`${where}() got an unexpected keyword argument '${k}'`);
  }
}

/**
 * Refuses an option value that tessera accepts by name (Python has it) but does not implement: `ok`
 * says whether `value` is one it honours. Throws NotImplementedError `<owner>: <name>=<value> is not supported`.
 */
export function refuseUnsupported(owner: string, name: string, value: unknown, ok: boolean, why = ""): void {
  if (!ok) throw new NotImplementedError(`${owner}: ${name}=${pyRepr(value)} is not supported${why === "" ? "" : ` (${why})`}`);
}

function pyRepr(v: unknown): string {
  if (v === true) return "True";
  if (v === false) return "False";
  if (v === null || v === undefined) return "None";
  return typeof v === "string" ? `'${v}'` : String(v);
}
