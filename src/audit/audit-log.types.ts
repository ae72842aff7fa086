import { DateTimeISOResolver, JSONResolver } from 'graphql-scalars';
import { ArgsType, Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { PageArgs } from '../api/page-args';

/** One entry of the audit trail Kiln writes (the app's AuditLog rows with metadata.source "kiln"). */
@ObjectType('AuditEntry')
export class AuditEntry {
  @Field(() => ID)
  id: string;

  @Field({ description: 'e.g. MAINTENANCE_ENABLED, SCHEDULE_UPDATED, SYSTEM_RESTORED, MUTATION_REFUSED' })
  action: string;

  @Field()
  entityName: string;

  @Field()
  entityId: string;

  @Field(() => ID, { nullable: true, description: 'null for the system itself (a scheduled job, the kiln CLI).' })
  actorUserId: string | null;

  @Field(() => String, { nullable: true, description: 'The actor’s email as it is now; null when there is none or the account is gone.' })
  actorEmail: string | null;

  @Field(() => JSONResolver, { nullable: true })
  before: unknown;

  @Field(() => JSONResolver, { nullable: true })
  after: unknown;

  @Field(() => JSONResolver, { nullable: true })
  metadata: unknown;

  @Field(() => String, { nullable: true })
  ipAddress: string | null;

  @Field(() => String, { nullable: true })
  userAgent: string | null;

  @Field(() => DateTimeISOResolver)
  createdAt: Date;
}

@ObjectType('AuditPage')
export class AuditPage {
  @Field(() => [AuditEntry], { description: 'Newest first.' })
  items: AuditEntry[];

  @Field(() => Int)
  total: number;
}

@InputType('AuditLogFilter')
export class AuditLogFilter {
  @Field(() => String, { nullable: true, description: 'Exactly this action, e.g. MAINTENANCE_ENABLED.' })
  action?: string | null;

  @Field(() => String, { nullable: true, description: 'The actor’s email (any case) or user id.' })
  actor?: string | null;

  @Field(() => DateTimeISOResolver, { nullable: true, description: 'From this instant on (inclusive).' })
  from?: Date | null;

  @Field(() => DateTimeISOResolver, { nullable: true, description: 'Before this instant (exclusive).' })
  to?: Date | null;
}

@ArgsType()
export class AuditLogArgs extends PageArgs {
  @Field(() => AuditLogFilter, { nullable: true })
  filter?: AuditLogFilter | null;
}
