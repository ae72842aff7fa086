import { registerEnumType } from 'type-graphql';
import { Role } from '../domain/lending-enums';

// Enums that are part of the public contract, under their contract names.
registerEnumType(Role, { name: 'Role' });
