/** For the TypeORM CLI (`npm run migration:*`): needs DATABASE_URL. */
import 'reflect-metadata';
import '../config/utc';
import { loadConfig } from '../config/config';
import { createDataSource } from './data-source';

const config = loadConfig();
if (!config.database.url) {
  throw new Error('The migration commands need DATABASE_URL; the embedded database is migrated by `npm start`.');
}
export default createDataSource(config.database.url, 2, config.database.kilnSchema);
