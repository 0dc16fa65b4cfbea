/**
 * Session ticket keys (RFC 5077) derived from a shared secret: the key of rotation period n is
 * HKDF-SHA256(secret, salt = TICKET_KEY_SALT, info = n as 8 bytes big-endian || context, 48 bytes),
 * the context being the TLS policy (version and cipher list, `ticketContext`). Every
 * worker and every instance holding the same secret computes the same key for the same period,
 * without talking to each other, so a ticket issued by one is accepted by all of them (pure module).
 *
 * Node holds one ticket key per server (`server.setTicketKeys`): at a period boundary the key is
 * replaced and tickets of the previous period no longer decrypt. Such a client gets a full
 * handshake (and a new ticket), never a failure.
 *
 * Why the policy is in the key: OpenSSL resumes a ticket whose cipher is not in the server's own
 * list (only the client's list is checked), so an instance with a stricter policy must not be able
 * to decrypt a ticket issued under a looser one; it then does a full handshake under its policy.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SipsError } from '../errors.js';

/** Node's ticket key: 16 bytes key name, 16 bytes HMAC secret, 16 bytes AES key. */
export const TICKET_KEY_LENGTH = 48;
/** A shared secret shorter than this is refused (it is the root of every ticket key). */
export const MIN_TICKET_SECRET_LENGTH = 32;
/** Domain separation: the same secret used elsewhere never yields these keys. */
export const TICKET_KEY_SALT = 'sips-edge tls session ticket key v1';

/** The rotation period a time falls in (periods are aligned on the Unix epoch, so all instances agree). */
export function ticketPeriod(nowMs: number, rotationSeconds: number): number {
  return Math.floor(nowMs / 1000 / rotationSeconds);
}

/** Milliseconds from `nowMs` to the start of the next period. */
export function msUntilNextPeriod(nowMs: number, rotationSeconds: number): number {
  const next = (ticketPeriod(nowMs, rotationSeconds) + 1) * rotationSeconds * 1000;
  return Math.max(1, next - nowMs);
}

/** The policy part of the key derivation: instances share tickets only under the same version and ciphers. */
export function ticketContext(protocol: string, ciphers: readonly string[]): string {
  return `${protocol}|${ciphers.join(':')}`;
}

/** The 48-byte ticket key of one period. */
export function deriveTicketKey(secret: Uint8Array, period: number, context = ''): Buffer {
  if (secret.length < MIN_TICKET_SECRET_LENGTH) {
    throw new SipsError('SIPS_ERR_TLS_TICKET_SECRET', `ticket secret has ${secret.length} bytes, at least ${MIN_TICKET_SECRET_LENGTH} required`);
  }
  if (!Number.isSafeInteger(period) || period < 0) throw new RangeError(`ticket period must be a non-negative integer, got ${period}`);
  const p = Buffer.alloc(8);
  p.writeBigUInt64BE(BigInt(period));
  const info = Buffer.concat([p, Buffer.from(context, 'utf8')]);
  return Buffer.from(hkdfSync('sha256', secret, TICKET_KEY_SALT, info, TICKET_KEY_LENGTH));
}

/**
 * The secret of `tls.sessionTickets.keyFile`: the file's bytes with trailing whitespace removed
 * (e.g. `openssl rand -base64 48 > ticket.secret`). Throws SIPS_ERR_TLS_TICKET_SECRET naming the file.
 */
export function readTicketSecret(file: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (e) {
    throw new SipsError('SIPS_ERR_TLS_TICKET_SECRET', `${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
  }
  let end = data.length;
  while (end > 0 && (data[end - 1] === 0x0a || data[end - 1] === 0x0d || data[end - 1] === 0x20 || data[end - 1] === 0x09)) end--;
  const secret = data.subarray(0, end);
  if (secret.length < MIN_TICKET_SECRET_LENGTH) {
    throw new SipsError('SIPS_ERR_TLS_TICKET_SECRET', `${file}: ${secret.length} bytes, at least ${MIN_TICKET_SECRET_LENGTH} required`);
  }
  return Buffer.from(secret);
}

/** A secret for one process when none is configured or injected (tickets then resume only on this process). */
export function randomTicketSecret(): Buffer {
  return randomBytes(32);
}
