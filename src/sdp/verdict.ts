/**
 * The outcome of an SRTP policy check: one stable reason per way an SDP can fail (S-MEDIA-1), each
 * with a `SIPS_ERR_SDP_*` code. The proxy answers every refusal with 488 Not Acceptable Here
 * (RFC 3261 §21.4.26) and puts the code in a `Warning: 399` header.
 *
 * A verdict is a value, never thrown: SDP comes from the network (docs/sdp.md lists the reasons).
 * `message` names the media line and never contains key material.
 */
import { SipsError } from '../errors.js';

/** reason (kebab-case, metric label) -> error code. One row per way an SDP can fail. */
export const SDP_REASON_CODES = {
  'no-sdp': 'SIPS_ERR_SDP_NO_SDP',
  'bad-multipart': 'SIPS_ERR_SDP_BAD_MULTIPART',
  'encoded-body': 'SIPS_ERR_SDP_ENCODED_BODY',
  'unknown-body': 'SIPS_ERR_SDP_UNKNOWN_BODY',
  'malformed-sdp': 'SIPS_ERR_SDP_MALFORMED_SDP',
  'not-savp': 'SIPS_ERR_SDP_NOT_SAVP',
  'no-crypto': 'SIPS_ERR_SDP_NO_CRYPTO',
  'malformed-crypto': 'SIPS_ERR_SDP_MALFORMED_CRYPTO',
  'bad-tag': 'SIPS_ERR_SDP_BAD_TAG',
  'duplicate-tag': 'SIPS_ERR_SDP_DUPLICATE_TAG',
  'suite-not-allowed': 'SIPS_ERR_SDP_SUITE_NOT_ALLOWED',
  'bad-key': 'SIPS_ERR_SDP_BAD_KEY',
  'bad-key-length': 'SIPS_ERR_SDP_BAD_KEY_LENGTH',
  'bad-lifetime': 'SIPS_ERR_SDP_BAD_LIFETIME',
  'bad-mki': 'SIPS_ERR_SDP_BAD_MKI',
  'bad-session-param': 'SIPS_ERR_SDP_BAD_SESSION_PARAM',
  'unencrypted-session-param': 'SIPS_ERR_SDP_UNENCRYPTED_SESSION_PARAM',
  'dtls-srtp-not-allowed': 'SIPS_ERR_SDP_DTLS_SRTP_NOT_ALLOWED',
  'no-fingerprint': 'SIPS_ERR_SDP_NO_FINGERPRINT',
  'bad-fingerprint': 'SIPS_ERR_SDP_BAD_FINGERPRINT',
  'udptl-not-allowed': 'SIPS_ERR_SDP_UDPTL_NOT_ALLOWED',
  'media-not-allowed': 'SIPS_ERR_SDP_MEDIA_NOT_ALLOWED',
  'media-count-mismatch': 'SIPS_ERR_SDP_MEDIA_COUNT_MISMATCH',
  'answer-media-mismatch': 'SIPS_ERR_SDP_ANSWER_MEDIA_MISMATCH',
  'answer-crypto-count': 'SIPS_ERR_SDP_ANSWER_CRYPTO_COUNT',
  'answer-crypto-mismatch': 'SIPS_ERR_SDP_ANSWER_CRYPTO_MISMATCH',
} as const;

export type SdpReason = keyof typeof SDP_REASON_CODES;
export type SdpErrorCode = (typeof SDP_REASON_CODES)[SdpReason];

/** Every reason, in table order (for docs and tests). */
export const SDP_REASONS = Object.keys(SDP_REASON_CODES) as readonly SdpReason[];

/** The SIP status a refusal is answered with (RFC 3261 §21.4.26, RFC 4568 §7.1.3). */
export const SDP_REFUSAL_STATUS = 488;

export interface SdpFailure {
  readonly ok: false;
  readonly reason: SdpReason;
  readonly code: SdpErrorCode;
  /** One sentence naming the media line; never key material. */
  readonly message: string;
  /** Index of the m= line at fault, or null when the fault is not one line's. */
  readonly mediaIndex: number | null;
}

export interface SdpPass {
  readonly ok: true;
  /** Number of m= lines. */
  readonly media: number;
  /** Number of m= lines with a port other than 0. */
  readonly active: number;
}

export type SdpVerdict = SdpPass | SdpFailure;

export function sdpFailure(reason: SdpReason, message: string, mediaIndex: number | null): SdpFailure {
  return { ok: false, reason, code: SDP_REASON_CODES[reason], message, mediaIndex };
}

/** For callers that want an Error (logs, the proxy's error table): same code, same message. */
export function sdpFailureToError(failure: SdpFailure): SipsError {
  return new SipsError(failure.code, failure.message);
}
