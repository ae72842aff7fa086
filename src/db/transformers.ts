import type { ValueTransformer } from 'typeorm';

/** bigint columns arrive from pg as strings; Kiln's counts and sizes stay far below 2^53. */
export const bigintAsNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};
