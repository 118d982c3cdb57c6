// Types of random.mjs (plain JavaScript, so that the simulators run without a build step).
export declare const SIM_SEED_ENV: "VMMEET_SIM_SEED";
export declare function simRandom(
  stream: string,
  env?: Readonly<Record<string, string | undefined>>,
): () => number;
export declare function seededRandom(seed: number, stream?: string): () => number;
export declare function mulberry32(seed: number): () => number;
