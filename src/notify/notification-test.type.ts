import { Field, ObjectType, registerEnumType } from 'type-graphql';

/** The channels as the API names them (the TypeScript NotificationChannel is the channel interface). */
export enum NotificationChannelKind {
  WEBHOOK = 'WEBHOOK',
  EMAIL = 'EMAIL',
  SLACK = 'SLACK',
  TELEGRAM = 'TELEGRAM',
}

registerEnumType(NotificationChannelKind, { name: 'NotificationChannel', description: 'Where Kiln sends notifications.' });

@ObjectType('NotificationTestResult', { description: 'The one try of a test message.' })
export class NotificationTestResult {
  @Field(() => NotificationChannelKind)
  channel: NotificationChannelKind;

  @Field({ description: 'Whether the receiver accepted the message.' })
  delivered: boolean;

  @Field(() => String, { nullable: true, description: 'Why it was not delivered (the receiver\'s answer or the network error); never a secret.' })
  error: string | null;
}
