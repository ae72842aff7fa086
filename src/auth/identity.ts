import type { Role } from '../domain/lending-enums';

/** Who is calling: established once per HTTP request or graphql-ws connection. */
export interface Identity {
  userId: string;
  role: Role;
  jwtId: string;
}

/** Where a request came from, for login history and audit entries. */
export interface RequestMeta {
  ipAddress: string | null;
  userAgent: string | null;
}
