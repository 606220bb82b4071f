// torch.device: a type ("cpu", "cuda", "meta") and an optional index.
export class device {
  readonly type: string;
  readonly index: number | null;

  constructor(spec: string | device, index?: number) {
    if (spec instanceof device) {
      this.type = spec.type;
      this.index = index ?? spec.index;
    } else {
      const m = /^([a-z_]+)(?::(\d+))?$/.exec(spec);
      if (m === null) throw new TypeError(`invalid device string: '${spec}'`);
      if (m[2] !== undefined && index !== undefined) throw new TypeError(`device '${spec}' already has an index`);
      this.type = m[1];
      this.index = m[2] !== undefined ? Number(m[2]) : (index ?? null);
    }
    Object.freeze(this);
  }

  toString(): string {
    return this.index === null ? this.type : `${this.type}:${this.index}`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `device(type='${this.type}'${this.index === null ? "" : `, index=${this.index}`})`;
  }
}

export type DeviceLike = string | device;

const cache = new Map<string, device>();

export function deviceOf(spec: string): device {
  let d = cache.get(spec);
  if (d === undefined) {
    d = new device(spec);
    cache.set(spec, d);
  }
  return d;
}
