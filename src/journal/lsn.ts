/**
 * PostgreSQL WAL positions ("16/B374D848": high and low 32 bits in hex) and transaction ids.
 * Both are compared and stored as 64-bit integers.
 */
export function lsnToBigInt(lsn: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!match) throw new Error(`not a WAL position: ${lsn}`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

export function bigIntToLsn(value: bigint): string {
  return `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xffffffffn).toString(16).toUpperCase()}`;
}

/**
 * The 64-bit id (epoch included, as pg_current_xact_id() and pg_current_snapshot() give them) of
 * the 32-bit xid pgoutput reports, given any 64-bit xid `near` it: one read from the server within
 * 2^31 transactions of it, before or after (wraparound protection keeps live xids that close).
 */
export function fullTransactionId(xid: number, near: bigint): bigint {
  const low = near & 0xffffffffn;
  let full = (near & ~0xffffffffn) | BigInt(xid >>> 0);
  if (BigInt(xid >>> 0) - low > 0x7fffffffn) full -= 0x100000000n; // the epoch before near's
  else if (low - BigInt(xid >>> 0) > 0x7fffffffn) full += 0x100000000n; // the epoch after near's
  return full;
}
