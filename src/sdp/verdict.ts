/**
 * The outcome of an SRTP policy check: one stable reason per way an SDP can fail (S-MEDIA-1), each
 * with a `SIPS_ERR_SDP_*` code. The proxy answers every refusal with 488 Not Acceptable Here
 * (RFC 3261 §21.4.26) and puts the code in a `Warning: 399` header.
 *
 * A verdict is a value, never thrown: SDP comes from the network (docs/sdp.md lists the reasons).
 * `message` names the media line and never contains key material.
 */
import { SipsError, type ErrorDef } from '../errors.js';

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

/** This layer's section of the error table: each code is the detail of a 488 (SIPS_ERR_PROXY_SRTP_REQUIRED). */
export const SDP_ERRORS = {
  SIPS_ERR_SDP_NO_SDP: { status: 488, reason: 'Not Acceptable Here', meaning: 'no SDP where one was expected' },
  SIPS_ERR_SDP_BAD_MULTIPART: { status: 488, reason: 'Not Acceptable Here', meaning: 'multipart body without exactly one application/sdp part' },
  SIPS_ERR_SDP_ENCODED_BODY: { status: 488, reason: 'Not Acceptable Here', meaning: 'a body (or multipart part) with a Content-Encoding (gzip) or Content-Transfer-Encoding (base64, quoted-printable) the edge cannot read, toward an SRTP-required leg' },
  SIPS_ERR_SDP_UNKNOWN_BODY: { status: 488, reason: 'Not Acceptable Here', meaning: 'a body of a media type the edge does not know (or without Content-Type) that does not read as SDP, toward an SRTP-required leg' },
  SIPS_ERR_SDP_MALFORMED_SDP: { status: 488, reason: 'Not Acceptable Here', meaning: 'not SDP' },
  SIPS_ERR_SDP_NOT_SAVP: { status: 488, reason: 'Not Acceptable Here', meaning: 'an active audio/video line is RTP/AVP(F), not RTP/SAVP(F)' },
  SIPS_ERR_SDP_NO_CRYPTO: { status: 488, reason: 'Not Acceptable Here', meaning: 'an active line without a usable a=crypto' },
  SIPS_ERR_SDP_MALFORMED_CRYPTO: { status: 488, reason: 'Not Acceptable Here', meaning: 'a=crypto line does not parse (RFC 4568 §9.1)' },
  SIPS_ERR_SDP_BAD_TAG: { status: 488, reason: 'Not Acceptable Here', meaning: 'crypto tag not 1–9 digits' },
  SIPS_ERR_SDP_DUPLICATE_TAG: { status: 488, reason: 'Not Acceptable Here', meaning: 'the same tag twice on a media line' },
  SIPS_ERR_SDP_SUITE_NOT_ALLOWED: { status: 488, reason: 'Not Acceptable Here', meaning: 'no crypto-suite of the allow-list' },
  SIPS_ERR_SDP_BAD_KEY: { status: 488, reason: 'Not Acceptable Here', meaning: 'inline key is not base64' },
  SIPS_ERR_SDP_BAD_KEY_LENGTH: { status: 488, reason: 'Not Acceptable Here', meaning: 'key + salt length wrong for the suite' },
  SIPS_ERR_SDP_BAD_LIFETIME: { status: 488, reason: 'Not Acceptable Here', meaning: 'lifetime not `2^n` or decimal' },
  SIPS_ERR_SDP_BAD_MKI: { status: 488, reason: 'Not Acceptable Here', meaning: 'MKI not `value:length`' },
  SIPS_ERR_SDP_BAD_SESSION_PARAM: { status: 488, reason: 'Not Acceptable Here', meaning: 'unknown session parameter (not `-`-prefixed, RFC 4568 §6.3.7)' },
  SIPS_ERR_SDP_UNENCRYPTED_SESSION_PARAM: { status: 488, reason: 'Not Acceptable Here', meaning: 'UNENCRYPTED_SRTP / UNENCRYPTED_SRTCP / UNAUTHENTICATED_SRTP' },
  SIPS_ERR_SDP_DTLS_SRTP_NOT_ALLOWED: { status: 488, reason: 'Not Acceptable Here', meaning: 'DTLS-SRTP without `srtp.allowDtlsSrtp`' },
  SIPS_ERR_SDP_NO_FINGERPRINT: { status: 488, reason: 'Not Acceptable Here', meaning: 'DTLS-SRTP line without a=fingerprint' },
  SIPS_ERR_SDP_BAD_FINGERPRINT: { status: 488, reason: 'Not Acceptable Here', meaning: 'malformed a=fingerprint' },
  SIPS_ERR_SDP_UDPTL_NOT_ALLOWED: { status: 488, reason: 'Not Acceptable Here', meaning: 'T.38 over plain UDPTL' },
  SIPS_ERR_SDP_MEDIA_NOT_ALLOWED: { status: 488, reason: 'Not Acceptable Here', meaning: 'non-RTP media not over TLS/DTLS' },
  SIPS_ERR_SDP_MEDIA_COUNT_MISMATCH: { status: 488, reason: 'Not Acceptable Here', meaning: 'answer has a different number of m= lines (RFC 3264 §6)' },
  SIPS_ERR_SDP_ANSWER_MEDIA_MISMATCH: { status: 488, reason: 'Not Acceptable Here', meaning: 'answer\'s media line does not correspond to the offer\'s' },
  SIPS_ERR_SDP_ANSWER_CRYPTO_COUNT: { status: 488, reason: 'Not Acceptable Here', meaning: 'accepted answer line without exactly one a=crypto' },
  SIPS_ERR_SDP_ANSWER_CRYPTO_MISMATCH: { status: 488, reason: 'Not Acceptable Here', meaning: 'answer\'s tag/suite not offered on that line' },
} as const satisfies Record<SdpErrorCode, ErrorDef>;

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
