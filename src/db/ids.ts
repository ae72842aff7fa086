import { createId } from '@paralleldrive/cuid2';

/** Collision-resistant text ids, the shape Prisma's cuid() gives the lending tables. */
export const newId: () => string = createId;
