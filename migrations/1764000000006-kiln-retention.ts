import type { MigrationInterface } from 'typeorm';

/**
 * Once added `keepAtLeast` to the app's `backup_schedule_settings`. It now
 * lives in Kiln's own kiln_schedule_settings (KilnOwnSchema moves what an older
 * database holds); kept, empty, so the migration history stays whole.
 */
export class KilnRetention1764000000006 implements MigrationInterface {
  name = 'KilnRetention1764000000006';

  async up(): Promise<void> {}

  async down(): Promise<void> {}
}
