// Baichuan2 against a reference written in Python torch after the published modeling_baichuan.py
// (HF transformers has no Baichuan code: it is remote code). 7B-style (RoPE, HF 4 masks, SDPA) and
// 13B-style (ALiBi with non-power-of-2 head count, eager attention clamped at finfo.min, z-loss)
// tiny checkpoints written by Python safetensors; logits, losses and gradients compared.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import path from "node:path";
import { torch } from "../../src/index.js";
import type { Tensor } from "../../src/torch/tensor.js";
import { AutoModelForCausalLM, BaichuanForCausalLM, NormHead } from "../../src/transformers/index.js";
import { _get_interleave } from "../../src/transformers/models/baichuan/modeling_baichuan.js";
import { assertClose, runPython, type PyValue } from "../helpers/oracle.js";
import { assertCloseOnTokens, tempDir, tokenBatch } from "./helpers/batch.js";

const root = tempDir("baichuan");
after(() => rmSync(root, { recursive: true, force: true }));
const batch = tokenBatch(128);
// The left-padded row's last pad position predicts its first real token. Its (uniform) attention
// row gets gradient through the reference's torch.max(scores, finfo.min) clamp, where a tie passes
// half the gradient — an artifact of the eager code, not of the math; SDPA passes all of it. So
// that one label is ignored, and the padded gradients are taken without the z-loss (which sees
// every position's logits); the values themselves agree either way.
const labels = batch.labels.clone();
labels.index_put_(
  [torch.tensor([0], { dtype: torch.int64 }), torch.tensor([3], { dtype: torch.int64 })],
  torch.tensor(-100, { dtype: torch.int64 }),
);

const common = {
  architectures: ["BaichuanForCausalLM"],
  model_type: "baichuan",
  vocab_size: 128,
  intermediate_size: 128,
  num_hidden_layers: 2,
  rms_norm_eps: 1e-6,
  pad_token_id: 0,
  bos_token_id: 1,
  eos_token_id: 2,
  tie_word_embeddings: false,
  hidden_act: "silu",
  initializer_range: 0.02,
  use_cache: true,
  torch_dtype: "float32",
  model_max_length: 64,
};
const CONFIGS: Record<string, Record<string, PyValue>> = {
  "baichuan2-7b": { ...common, hidden_size: 64, num_attention_heads: 4, max_position_embeddings: 64, z_loss_weight: 0 },
  "baichuan2-13b": { ...common, hidden_size: 48, num_attention_heads: 6, z_loss_weight: 0.1 },
};
const GRADS = [
  "model.embed_tokens.weight",
  "model.layers.0.self_attn.W_pack.weight",
  "model.layers.1.mlp.down_proj.weight",
  "lm_head.weight",
];

const REFERENCE = String.raw`
import math, torch.nn.functional as F
from safetensors.torch import save_file

def _get_interleave(n):
    def _get_interleave_power_of_2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        ratio = start
        return [start * ratio**i for i in range(n)]
    if math.log2(n).is_integer():
        return _get_interleave_power_of_2(n)
    else:
        closest_power_of_2 = 2 ** math.floor(math.log2(n))
        return (_get_interleave_power_of_2(closest_power_of_2) + _get_interleave(2 * closest_power_of_2)[0::2][: n - closest_power_of_2])

def _fill_with_neg_inf(t):
    return t.float().fill_(float("-inf")).type_as(t)

def alibi_mask(n_head, L, training):
    slopes = torch.Tensor(_get_interleave(n_head))
    if training:   # BaichuanModel.get_alibi_mask, training branch: slope * (j - i)
        pp = (torch.arange(L) - L + 1).unsqueeze(0).unsqueeze(0).expand(n_head, L, -1)
        diag = torch.diag(pp[0])
        pp = pp - diag.unsqueeze(0).unsqueeze(0).transpose(-1, -2)
        alibi = slopes.unsqueeze(1).unsqueeze(1) * pp
        return torch.triu(_fill_with_neg_inf(torch.zeros([L, L])), 1).unsqueeze(0) + alibi
    # _gen_alibi_mask (eval): slope * j
    pp = (torch.arange(L) - L + 1).unsqueeze(0).unsqueeze(0).expand(n_head, -1, -1)
    diag = torch.diag(pp[0])
    pp = pp - diag.unsqueeze(0).unsqueeze(0).transpose(-1, -2)
    alibi = (slopes.unsqueeze(1).unsqueeze(1) * pp).view(n_head, 1, L)
    return torch.triu(_fill_with_neg_inf(torch.zeros([L, L])), 1).unsqueeze(0) + alibi

def hf4_decoder_mask(am, b, L):   # _make_causal_mask + _expand_mask of HF 4
    mn = torch.finfo(torch.float32).min
    causal = torch.full((L, L), mn)
    cond = torch.arange(L)
    causal.masked_fill_(cond < (cond + 1).view(L, 1), 0)
    causal = causal[None, None].expand(b, 1, L, L)
    if am is None: return causal
    inv = 1.0 - am[:, None, None, :].expand(b, 1, L, L).float()
    return inv.masked_fill(inv.bool(), mn) + causal

def rms(x, w, eps):
    v = x.float().pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(v + eps))

def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)

def forward(W, c, ids, am, labels, training):
    b, L = ids.shape
    h, nh = c["hidden_size"], c["num_attention_heads"]
    hd = h // nh
    rope = "max_position_embeddings" in c
    x = F.embedding(ids, W["model.embed_tokens.weight"], padding_idx=c["pad_token_id"])
    if rope:
        mask = hf4_decoder_mask(am, b, L)
        inv_freq = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
        freqs = torch.outer(torch.arange(c["max_position_embeddings"], dtype=torch.float32), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        pos = torch.arange(L).unsqueeze(0)
        cos, sin = emb.cos()[pos].unsqueeze(1), emb.sin()[pos].unsqueeze(1)
    else:
        al = alibi_mask(nh, L, training)
        if am is not None:
            e = am.float()
            e = torch.tril(torch.gt(e[:, :, None] * e[:, None, :], 0)) * torch.eq(e[:, :, None] - e[:, None, :], 0)
            e = e.unsqueeze(1).expand(b, 1, L, L).float()
            inv = 1.0 - e
            mask = inv.masked_fill(inv.bool(), torch.finfo(torch.float32).min) + al.unsqueeze(0)
        else:
            mask = al
    for i in range(c["num_hidden_layers"]):
        p = "model.layers.%d." % i
        r = x
        x = rms(x, W[p + "input_layernorm.weight"], c["rms_norm_eps"])
        proj = F.linear(x, W[p + "self_attn.W_pack.weight"])
        proj = proj.unflatten(-1, (3, h)).unsqueeze(0).transpose(0, -2).squeeze(-2)
        q, k, v = [t.view(b, L, nh, hd).transpose(1, 2) for t in (proj[0], proj[1], proj[2])]
        if rope:
            q, k = (q.float() * cos) + (rotate_half(q.float()) * sin), (k.float() * cos) + (rotate_half(k.float()) * sin)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(hd) + mask
            w = torch.max(w, torch.tensor(torch.finfo(w.dtype).min))
            a = torch.matmul(F.softmax(w, dim=-1), v)
        a = F.linear(a.transpose(1, 2).reshape(b, L, h), W[p + "self_attn.o_proj.weight"])
        x = r + a
        r = x
        x = rms(x, W[p + "post_attention_layernorm.weight"], c["rms_norm_eps"])
        x = F.linear(F.silu(F.linear(x, W[p + "mlp.gate_proj.weight"])) * F.linear(x, W[p + "mlp.up_proj.weight"]), W[p + "mlp.down_proj.weight"])
        x = r + x
    x = rms(x, W["model.norm.weight"], c["rms_norm_eps"])
    logits = F.linear(x, F.normalize(W["lm_head.weight"]))   # NormHead (eval normalizes once: the same values)
    loss = None
    if labels is not None:
        sl = logits[..., :-1, :].contiguous().view(-1, c["vocab_size"])
        st = labels[..., 1:].contiguous().view(-1)
        z = c["z_loss_weight"] * (sl.max(-1).values ** 2).mean()
        loss = F.cross_entropy(sl, st) + z
    return logits, loss

torch.manual_seed(0)
for name, c in configs.items():
    h, it, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    W = {"model.embed_tokens.weight": torch.randn(V, h) * 0.1, "model.norm.weight": 1 + 0.1 * torch.randn(h), "lm_head.weight": torch.randn(V, h) * 0.1}
    for i in range(c["num_hidden_layers"]):
        p = "model.layers.%d." % i
        W.update({p + "self_attn.W_pack.weight": torch.randn(3 * h, h) * 0.1, p + "self_attn.o_proj.weight": torch.randn(h, h) * 0.1,
                  p + "mlp.gate_proj.weight": torch.randn(it, h) * 0.1, p + "mlp.up_proj.weight": torch.randn(it, h) * 0.1,
                  p + "mlp.down_proj.weight": torch.randn(h, it) * 0.1,
                  p + "input_layernorm.weight": 1 + 0.1 * torch.randn(h), p + "post_attention_layernorm.weight": 1 + 0.1 * torch.randn(h)})
    d = os.path.join(root, name)
    os.makedirs(d)
    json.dump(c, open(os.path.join(d, "config.json"), "w"))
    if name.endswith("13b"):   # two shards and an index, as the published 13B checkpoint
        keys = list(W)
        shards = {"model-00001-of-00002.safetensors": keys[: len(keys) // 2], "model-00002-of-00002.safetensors": keys[len(keys) // 2 :]}
        for f, ks in shards.items(): save_file({k: W[k].contiguous() for k in ks}, os.path.join(d, f), metadata={"format": "pt"})
        json.dump({"metadata": {}, "weight_map": {k: f for f, ks in shards.items() for k in ks}}, open(os.path.join(d, "model.safetensors.index.json"), "w"))
    else:
        save_file(W, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    r = {}
    with torch.no_grad():
        r["logits"], _ = forward(W, c, ids, None, None, False)
        r["logits_padded"], _ = forward(W, c, ids, mask, None, False)
    for t in W.values(): t.requires_grad_(True)
    _, la = forward(W, c, ids, None, ids, True)
    la.backward()
    r["grads"] = [W[n].grad.clone() for n in grads]
    for t in W.values(): t.grad = None
    _, lb = forward(W, c, ids, mask, labels, True)
    # The z-loss term reaches padded positions' logits too; see the note on labels above.
    _, lb0 = forward(W, c | {"z_loss_weight": 0}, ids, mask, labels, True)
    lb0.backward()
    r["grads_padded"] = [W[n].grad for n in grads]
    r["loss"], r["loss_padded"] = la, lb
    out[name] = r
`;

const expected = runPython(REFERENCE, { root, configs: CONFIGS, grads: GRADS, ids: batch.ids, mask: batch.mask, labels }) as Record<
  string,
  Record<string, PyValue>
>;
const T = (v: PyValue): Tensor => v as Tensor;

test("_get_interleave: ALiBi slopes of the published model (power of 2 and not)", () => {
  assert.deepEqual(_get_interleave(4), [0.25, 0.0625, 0.015625, 0.00390625]);
  const s6 = _get_interleave(6);
  assert.equal(s6.length, 6);
  // 4 heads' slopes, then every other slope of 8 heads: 2^-1, 2^-3.
  assert.deepEqual(s6.slice(4), [0.5, 0.125]);
});

for (const name of Object.keys(CONFIGS)) {
  test(`${name}: logits, losses and gradients equal the published model's math`, () => {
    const dir = path.join(root, name);
    const exp = expected[name];
    const evalModel = AutoModelForCausalLM.from_pretrained(dir);
    assert.ok(evalModel instanceof BaichuanForCausalLM);
    assert.ok(evalModel.lm_head instanceof NormHead);
    torch.no_grad(() => {
      assertClose(evalModel.forward(batch.ids).logits, T(exp.logits), { rtol: 1e-4, atol: 1e-5, msg: `${name} logits` });
      const padded = evalModel.forward(batch.ids, { attention_mask: batch.mask }).logits;
      assertCloseOnTokens(padded, T(exp.logits_padded), batch.mask, { rtol: 1e-4, atol: 1e-5, msg: `${name} padded logits` });
    });
    // Eval normalised lm_head once, in place.
    const norms = evalModel.lm_head.weight.norm(2, [1]);
    assertClose(norms, torch.ones_like(norms), { rtol: 1e-5, atol: 1e-6, msg: "NormHead rows" });

    const model = BaichuanForCausalLM.from_pretrained(dir).train();
    const a = model.forward(batch.ids, { labels: batch.ids });
    const b = model.forward(batch.ids, { attention_mask: batch.mask, labels });
    assertClose(a.loss!, T(exp.loss), { rtol: 1e-5, atol: 0, msg: `${name} loss` });
    assertClose(b.loss!, T(exp.loss_padded), { rtol: 1e-5, atol: 0, msg: `${name} padded loss` });
    const compareGrads = (key: string): void =>
      GRADS.forEach((g, i) =>
        assertClose(model.get_parameter(g).grad!, T((exp[key] as PyValue[])[i]), { rtol: 1e-4, atol: 1e-6, msg: `${name} ${key} ${g}` }),
      );
    a.loss!.backward();
    compareGrads("grads");
    model.zero_grad();
    model.config.z_loss_weight = 0;
    model.forward(batch.ids, { attention_mask: batch.mask, labels }).loss!.backward();
    compareGrads("grads_padded");
  });
}

test("Baichuan2: cached decoding matches the full forward (RoPE and ALiBi)", () => {
  torch.no_grad(() => {
    for (const name of Object.keys(CONFIGS)) {
      const model = BaichuanForCausalLM.from_pretrained(path.join(root, name));
      const full = model.forward(batch.ids).logits;
      const first = model.forward(batch.ids.narrow(1, 0, 7), { use_cache: true });
      const steps = [first.logits];
      for (let t = 7; t < 10; t++) steps.push(model.forward(batch.ids.narrow(1, t, 1), { past_key_values: first.past_key_values }).logits);
      assertClose(torch.cat(steps, 1), full, { rtol: 1e-4, atol: 1e-5, msg: `${name} cached decoding` });
    }
  });
});
