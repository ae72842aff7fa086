// Moved to ./sql with the other shared SQL helpers; this name stays while other branches still import it.
export { updateReturning } from './sql';
