import type { MigrationInterface } from 'typeorm';

/**
 * Once added Kiln's cloud-copy columns to the app's `backup_records`. Those
 * facts now live in Kiln's own kiln_backup_details (KilnOwnSchema moves what an
 * older database holds); kept, empty, so the migration history stays whole.
 */
export class KilnCloudCopies1764000000004 implements MigrationInterface {
  name = 'KilnCloudCopies1764000000004';

  async up(): Promise<void> {}

  async down(): Promise<void> {}
}
