/**
 * Prisma stores DateTime as `timestamp(3) without time zone` holding UTC.
 * node-postgres reads such values in the process's zone, so Kiln runs in UTC.
 * Imported first by every entry point.
 */
process.env.TZ = 'UTC';
