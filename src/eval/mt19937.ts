/**
 * @module numpy's legacy `RandomState(seed)` (MT19937 with `init_genrand`), bit for bit, so that
 * seeded splits reproduce the ones published with numpy.
 */

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

export interface RandomState {
  /** The next raw 32-bit output (numpy `genrand_int32`). */
  nextUint32(): number;
  /** A double in [0, 1) with 53 random bits: numpy `RandomState.rand()`. */
  rand(): number;
  /** An integer in [0, n): `floor(rand() * n)`; not numpy's `randint` stream, but uniform enough for resampling. */
  randInt(n: number): number;
}

/** numpy `np.random.RandomState(seed)` for an integer seed in [0, 2^32). */
export function createRandomState(seed: number): RandomState {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`seed must be an integer in [0, 2^32 - 1], got ${seed}; numpy rejects other seeds too`);
  }
  const mt = new Uint32Array(N);
  mt[0] = seed >>> 0;
  for (let i = 1; i < N; i++) {
    const prev = mt[i - 1]!;
    mt[i] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + i) >>> 0;
  }
  let mti = N;

  function twist(): void {
    for (let kk = 0; kk < N; kk++) {
      const y = (mt[kk]! & UPPER_MASK) | (mt[(kk + 1) % N]! & LOWER_MASK);
      mt[kk] = mt[(kk + M) % N]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    mti = 0;
  }

  function nextUint32(): number {
    if (mti >= N) twist();
    let y = mt[mti++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  function rand(): number {
    const a = nextUint32() >>> 5;
    const b = nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  return {
    nextUint32,
    rand,
    randInt: (n: number) => Math.floor(rand() * n),
  };
}
