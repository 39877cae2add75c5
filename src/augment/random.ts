// The project's one seeded uniform generator (augmentation draws, epoch orders, mixup): small and
// dependency-free, so batch workers can use it without loading the addon.

/** A seeded uniform generator: a Weyl sequence through murmur3's 32-bit finaliser. */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  let high = Math.floor(seed / 2 ** 32) >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state ^ high;
    high = (high + 0x7f4a7c15) >>> 0;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return ((z ^ (z >>> 16)) >>> 0) / 2 ** 32;
  };
}
