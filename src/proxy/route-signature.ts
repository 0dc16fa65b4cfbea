import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ownString } from '../message/message.js';

/**
 * Signs the parameters of the edge's own Record-Route entries (`se`, `t`, `f`, `pe`), so a Route
 * entry that steers the edge is one it wrote: without it any peer could send a Route naming the
 * edge with `se=i|o` and have the request relayed wherever its Request-URI points.
 *
 * Keys rotate like TLS ticket keys: the first signs, every key verifies. Instances sharing the
 * keys accept each other's entries, so no dialog state is needed ("No per-dialog state").
 * The signature is HMAC-SHA256 truncated to 12 bytes, base64url (16 characters).
 */
export const SIGNATURE_PARAM = 'sg';
const SIG_BYTES = 12;
const SIG_CHARS = 16;
/** Shorter keys are refused: a guessable key makes the signature worthless. */
export const MIN_KEY_LENGTH = 16;
/**
 * The same few entries recur (a trunk's lb hosts, a vendor flow, a peer): an HMAC costs ~5 µs, a
 * lookup well under 1 µs. Bounded; cleared when full. Only signatures this process made or
 * verified are cached, so an attacker's guesses never enter the verify cache.
 */
const CACHE_LIMIT = 1024;

export class RouteSigner {
  private readonly keys: readonly Buffer[];
  private readonly signed = new Map<string, string>();
  /**
   * Signature -> the parameters it was verified for. Keyed by the 16-character signature, not a
   * string built per request: a hit costs one short hash and four comparisons, no base64 decode.
   */
  private readonly verified = new Map<string, VerifiedParams>();

  constructor(keys: readonly (string | Buffer)[], readonly generated = false) {
    if (keys.length === 0) throw new Error('RouteSigner: at least one key is needed');
    this.keys = keys.map((k) => (typeof k === 'string' ? Buffer.from(k, 'utf8') : k));
    for (const k of this.keys) if (k.length < MIN_KEY_LENGTH) throw new Error(`Record-Route key shorter than ${MIN_KEY_LENGTH} bytes`);
  }

  /** A random key for this process only: entries do not survive a restart or reach another instance. */
  static random(): RouteSigner {
    return new RouteSigner([randomBytes(32)], true);
  }

  get keyCount(): number {
    return this.keys.length;
  }

  /** The signature of the routing parameters, with the first key. */
  sign(se: string, t: string | undefined, f: string | undefined, pe: string | undefined): string {
    const text = canonical(se, t, f, pe);
    let sig = this.signed.get(text);
    if (sig === undefined) {
      sig = mac(this.keys[0]!, text).toString('base64url');
      if (this.signed.size >= CACHE_LIMIT) this.signed.clear();
      this.signed.set(text, sig);
    }
    return sig;
  }

  /** Constant-time check against every key. */
  verify(se: string, t: string | undefined, f: string | undefined, pe: string | undefined, signature: string): boolean {
    if (signature.length !== SIG_CHARS) return false;
    const hit = this.verified.get(signature);
    // Only the exact parameters a signature verified for match: the same signature beside another
    // `t`/`f`/`pe` is checked by MAC (and fails).
    if (hit !== undefined && hit.se === se && hit.t === t && hit.f === f && hit.pe === pe) return true;
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== SIG_BYTES) return false;
    const text = canonical(se, t, f, pe);
    let ok = false;
    for (const k of this.keys) ok = timingSafeEqual(mac(k, text), given) || ok;
    if (ok) {
      if (this.verified.size >= CACHE_LIMIT) this.verified.clear();
      // Own copies: the strings are slices of the request's header text, which they would keep alive.
      this.verified.set(ownString(signature), { se: ownString(se), t: own(t), f: own(f), pe: own(pe) });
    }
    return ok;
  }
}

function own(s: string | undefined): string | undefined {
  return s === undefined ? s : ownString(s);
}

interface VerifiedParams {
  readonly se: string;
  readonly t: string | undefined;
  readonly f: string | undefined;
  readonly pe: string | undefined;
}

// Separators that cannot occur in a URI parameter value as the edge writes them.
function canonical(se: string, t: string | undefined, f: string | undefined, pe: string | undefined): string {
  return `${se}\n${t ?? ''}\n${f ?? ''}\n${pe ?? ''}`;
}

function mac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text).digest().subarray(0, SIG_BYTES);
}
