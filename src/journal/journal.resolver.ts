import { Arg, Authorized, Query, Resolver } from 'type-graphql';
import { DateTimeISOResolver } from 'graphql-scalars';
import type { Services } from '../api/services';
import { PointInTimePreview, RecoveryWindow } from './journal.types';

@Resolver()
export class JournalResolver {
  constructor(private readonly services: Services) {}

  @Authorized('ADMIN')
  @Query(() => RecoveryWindow, { description: 'What restoreToPointInTime can restore: its spans, the gaps between them, the journal’s lag.' })
  recoveryWindow(): Promise<RecoveryWindow> {
    return this.services.restore.recoveryWindow();
  }

  @Authorized('ADMIN')
  @Query(() => PointInTimePreview, { description: 'The base backup restoreToPointInTime(at) would load and what it would replay per table, read from the journal; nothing is changed.' })
  pointInTimePreview(@Arg('at', () => DateTimeISOResolver) at: Date): Promise<PointInTimePreview> {
    return this.services.restore.pointInTimePreview(at);
  }
}
