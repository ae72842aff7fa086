import { Max, Min } from 'class-validator';
import { ArgsType, Field, Int } from 'type-graphql';

/** limit and offset of a paged list (backups, the audit trail): at most 500 a page. */
@ArgsType()
export class PageArgs {
  @Field(() => Int, { nullable: true, defaultValue: 50 })
  @Min(1)
  @Max(500)
  limit: number;

  @Field(() => Int, { nullable: true, defaultValue: 0 })
  @Min(0)
  offset: number;
}
