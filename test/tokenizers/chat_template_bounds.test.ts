// Issue 19, finding 9: a chat template comes from a file, so rendering it is bounded. A loop without
// end, a huge range(), nested loops and a doubling string each end with an error naming the problem
// (each case is bounded by the test's timeout), and a real template still renders as Python's
// transformers renders it.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AutoTokenizer } from "../../src/transformers/index.js";
import { renderChatTemplate } from "../../src/transformers/tokenization/chat_template.js";
import { repoRoot, runPython } from "../helpers/oracle.js";

const root = mkdtempSync(path.join(tmpdir(), "chat-bounds-"));
after(() => rmSync(root, { recursive: true, force: true }));
const messages = [{ role: "user", content: "hi" }];

test("hostile templates end with an error naming the bound", { timeout: 60_000 }, () => {
  const cases: Array<[string, RegExp]> = [
    ["{% for i in range(1000000000) %}x{% endfor %}", /range\(\) of 1000000000 items is more than the 100000/],
    [
      "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}{{ c }}{% endfor %}{% endfor %}{% endfor %}",
      /more than 1000000 evaluation steps/,
    ],
    [
      "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}",
      /output of more than 16777216 characters|more than .* evaluation steps|string too long/,
    ],
  ];
  for (const [template, message] of cases) assert.throws(() => renderChatTemplate(template, { messages }), message, template);
});

test(
  "a tokenizer whose tokenizer_config.json holds a looping chat template: apply_chat_template fails, the tokenizer still works",
  { timeout: 60_000 },
  () => {
    const dir = path.join(root, "tok");
    mkdirSync(dir);
    const config = path.join(repoRoot, "examples/finetune/config");
    copyFileSync(path.join(config, "tokenizer.json"), path.join(dir, "tokenizer.json"));
    const cfg = JSON.parse(readFileSync(path.join(config, "tokenizer_config.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(
      path.join(dir, "tokenizer_config.json"),
      JSON.stringify({ ...cfg, chat_template: "{% for i in range(10 ** 12) %}{{ i }}{% endfor %}" }),
    );
    const tok = AutoTokenizer.from_pretrained(dir);
    assert.throws(() => tok.apply_chat_template(messages, { tokenize: false }), /range\(\) of 1000000000000 items/);
    assert.ok(tok.encode("upper: ab -> AB").length > 0);
  },
);

test("a template with loops, macros and namespaces renders as Python's transformers renders it", () => {
  const template =
    "{% macro turn(m) %}<{{ m.role }}>{{ m.content | trim }}</{{ m.role }}>{% endmacro %}{% set ns = namespace(n=0) %}" +
    "{% for m in messages %}{{ turn(m) }}{% set ns.n = ns.n + 1 %}{% endfor %}{% for i in range(2, 9, 3) %}[{{ i }}]{% endfor %}{{ ns.n }}{% if add_generation_prompt %}<assistant>{% endif %}";
  const msgs = [
    { role: "system", content: " be brief " },
    { role: "user", content: "hi" },
  ];
  const ours = renderChatTemplate(template, { messages: msgs, add_generation_prompt: true });
  const py = runPython(
    `from transformers.utils.chat_template_utils import _compile_jinja_template\nout["text"] = _compile_jinja_template(template).render(messages=msgs, add_generation_prompt=True)`,
    { template, msgs: msgs as unknown as import("../helpers/oracle.js").PyValue },
  );
  assert.equal(ours, py.text);
});
