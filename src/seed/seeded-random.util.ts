/**
 * The seeded PRNG behind every demo value: sfc32, keyed through a 32-bit integer hash
 * (mix32, from "lowbias32"). Never Math.random: the data set must be a pure function of
 * (members, seed), so two databases seeded alike fingerprint alike.
 */

export function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x21f0aaad);
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(k0: number, k1: number, k2: number, k3: number) {
    this.a = mix32(k0 ^ 0x9e3779b9);
    this.b = mix32((k1 ^ this.a ^ 0x85ebca6b) >>> 0);
    this.c = mix32((k2 ^ this.b ^ 0xc2b2ae35) >>> 0);
    this.d = mix32((k3 ^ this.c ^ 0x27d4eb2f) >>> 0);
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const { a, b, c, d } = this;
    const t = (((a + b) | 0) + d) | 0;
    this.d = (d + 1) | 0;
    this.a = b ^ (b >>> 9);
    this.b = (c + (c << 3)) | 0;
    this.c = (((c << 21) | (c >>> 11)) + t) | 0;
    return t >>> 0;
  }
  float(): number {
    return this.u32() / 4294967296;
  }
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)];
  }
  digits(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += Math.floor(this.float() * 10);
    return s;
  }
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += Math.floor(this.float() * 16).toString(16);
    return s;
  }
}

/** Picks items in proportion to their weights, with one draw per pick. */
export class Weighted<T> {
  private readonly cum: number[] = [];
  private readonly total: number;
  constructor(private readonly items: readonly (readonly [T, number])[]) {
    let t = 0;
    for (const [, w] of items) this.cum.push((t += w));
    this.total = t;
  }
  pick(r: Rng): T {
    const x = r.float() * this.total;
    for (let i = 0; i < this.cum.length; i++) if (x < this.cum[i]) return this.items[i][0];
    return this.items[this.items.length - 1][0];
  }
}
