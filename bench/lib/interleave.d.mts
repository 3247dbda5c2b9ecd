/** Types of interleave.mjs, for its test. */
export declare function interleave<C, V>(
  cases: readonly C[],
  rounds: number,
  measure: (c: C) => V | Promise<V>,
  options?: { warmUp?: number; keepGoing?: () => boolean },
): Promise<Awaited<V>[][]>;
