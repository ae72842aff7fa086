import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An interrupted job (its gateway stopped, crashed or lost the lease) says so in errorCode
 * INTERRUPTED, which the scheduler matches on; jobs failed before that said it only by the
 * "interrupted: " prefix of their error, and are given the code.
 */
export class KilnJobInterruptedCode1764000000014 implements MigrationInterface {
  name = 'KilnJobInterruptedCode1764000000014';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE "kiln_jobs" SET "errorCode" = 'INTERRUPTED' WHERE "errorCode" IS NULL AND left("error", 13) = 'interrupted: '`);
  }

  async down(q: QueryRunner): Promise<void> {
    // The prefix stays on the messages: nothing to put back.
    await q.query(`UPDATE "kiln_jobs" SET "errorCode" = NULL WHERE "errorCode" = 'INTERRUPTED'`);
  }
}
