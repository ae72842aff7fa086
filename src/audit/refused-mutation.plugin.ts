import type { ApolloServerPlugin } from '@apollo/server';
import { Kind } from 'graphql';
import type { KilnContext } from '../api/context';
import { toKilnError } from '../errors/to-kiln-error';
import type { AuditLogService } from './audit-log.service';

/** The mutations that change or destroy what the backups protect, or the protection itself. */
export const DANGEROUS_MUTATIONS: ReadonlySet<string> = new Set([
  'restoreBackup',
  'resetSystem',
  'deleteBackup',
  'applyRetention',
  'setMaintenanceMode',
  'updateBackupSchedule',
  'cancelJob',
]);

/**
 * Writes an audit entry (and a log line) for each dangerous mutation a signed-in caller was
 * refused: a staff member trying an admin's operation, a restore without maintenance mode, a
 * delete another record still depends on. Failures of Kiln itself (INTERNAL) are not refusals.
 */
export function refusedMutationPlugin(audit: AuditLogService): ApolloServerPlugin<KilnContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ operation, errors, contextValue }) {
          const identity = contextValue.identity;
          if (!identity || operation?.operation !== 'mutation') return;
          // Errors name the response key: an alias leads back to the field.
          const fieldOf = new Map<string, string>();
          for (const selection of operation.selectionSet.selections) {
            if (selection.kind === Kind.FIELD) fieldOf.set(selection.alias?.value ?? selection.name.value, selection.name.value);
          }
          // One entry per field a request was refused, however many aliases asked for it.
          const written = new Set<string>();
          for (const error of errors) {
            const field = typeof error.path?.[0] === 'string' ? fieldOf.get(error.path[0]) : undefined;
            const refusal = toKilnError(error.originalError ?? error) ?? toKilnError(error);
            if (!field || written.has(field) || !DANGEROUS_MUTATIONS.has(field) || !refusal || refusal.code === 'INTERNAL') continue;
            written.add(field);
            audit.recordRefusal(identity.userId, field, { code: refusal.code, message: refusal.message }, contextValue.meta);
          }
        },
      };
    },
  };
}
