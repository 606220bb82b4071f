// nn.Embedding: a lookup table initialised N(0, 1), with the padding_idx row zeroed.
import { ValueError } from "../../errors.js";
import type { Tensor } from "../../tensor.js";
import { no_grad } from "../../autograd/grad_mode.js";
import * as F from "../functional.js";
import * as init from "../init.js";
import { Parameter } from "../parameter.js";
import { Module } from "./module.js";
import { FACTORY_OPTIONS, emptyParameter, intArg, type FactoryOptions } from "./_factory.js";
import { checkOptions } from "../../_options.js";

export interface EmbeddingModuleOptions extends FactoryOptions, Omit<F.EmbeddingOptions, "padding_idx"> {
  padding_idx?: number | null;
  _weight?: Tensor | null;
  _freeze?: boolean;
}

export class Embedding extends Module {
  readonly num_embeddings: number;
  readonly embedding_dim: number;
  readonly padding_idx: number | null;
  readonly max_norm: number | null;
  readonly norm_type: number;
  readonly scale_grad_by_freq: boolean;
  readonly sparse: boolean;
  weight: Parameter;

  constructor(num_embeddings: number, embedding_dim: number, opts: EmbeddingModuleOptions = {}) {
    super();
    checkOptions("Embedding.__init__", opts, { ...FACTORY_OPTIONS, ...F.EMBEDDING_OPTIONS, _weight: true, _freeze: true });
    this.num_embeddings = intArg("Embedding", "num_embeddings", num_embeddings);
    this.embedding_dim = intArg("Embedding", "embedding_dim", embedding_dim);
    let padding_idx = opts.padding_idx ?? null;
    if (padding_idx !== null) {
      if (padding_idx >= num_embeddings || padding_idx < -num_embeddings) throw new ValueError("Padding_idx must be within num_embeddings");
      if (padding_idx < 0) padding_idx += num_embeddings;
    }
    this.padding_idx = padding_idx;
    this.max_norm = opts.max_norm ?? null;
    this.norm_type = opts.norm_type ?? 2.0;
    this.scale_grad_by_freq = opts.scale_grad_by_freq ?? false;
    this.sparse = opts.sparse ?? false;
    const given = opts._weight ?? null;
    if (given === null) {
      this.weight = emptyParameter([num_embeddings, embedding_dim], opts);
      this.reset_parameters();
    } else {
      const s = given.shape;
      if (s.length !== 2 || s[0] !== num_embeddings || s[1] !== embedding_dim) {
        throw new Error("Shape of weight does not match num_embeddings and embedding_dim");
      }
      this.weight = new Parameter(given, !(opts._freeze ?? false));
    }
  }

  reset_parameters(): void {
    init.normal_(this.weight);
    const idx = this.padding_idx;
    if (idx !== null) no_grad(() => this.weight.select(0, idx).fill_(0));
  }

  override forward(input: Tensor): Tensor {
    const { padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse } = this;
    return F.embedding(input, this.weight, { padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse });
  }

  override extra_repr(): string {
    let s = `${this.num_embeddings}, ${this.embedding_dim}`;
    if (this.padding_idx !== null) s += `, padding_idx=${this.padding_idx}`;
    if (this.max_norm !== null) s += `, max_norm=${this.max_norm}`;
    return s;
  }
}
