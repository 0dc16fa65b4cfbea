/**
 * The media columns of the lab report: per call, one row per direction. The inside (carrier) side
 * speaks RTP, the vendor side SRTP, so "authenticated" exists only where the vendor receives; in
 * the other direction the carrier's payloadOk is the proof that the edge authenticated and
 * decrypted the vendor's SRTP with the right key.
 */
import type { MediaStats } from './media-endpoint.js';

export type MediaFlow = 'inside->vendor' | 'vendor->inside';

export interface MediaRow {
  readonly flow: MediaFlow;
  readonly sent: number;
  readonly received: number;
  /** SRTP tags verified at the receiver; null where the receiver speaks plain RTP */
  readonly authenticated: number | null;
  readonly authFailed: number;
  readonly payloadOk: number;
  readonly ok: boolean;
}

/**
 * A direction is ok when at least `minShare` of the packets sent arrived with the sender's payload,
 * none failed authentication, and (SRTP receiver) every such packet authenticated. Loopback loses
 * nothing, but the relay may drop the first packets before it has learned both sides.
 */
export function mediaRows(inside: MediaStats, vendor: MediaStats, minShare = 0.9): readonly [MediaRow, MediaRow] {
  const row = (flow: MediaFlow, tx: MediaStats, rx: MediaStats, srtp: boolean): MediaRow => ({
    flow,
    sent: tx.sent,
    received: rx.received,
    authenticated: srtp ? rx.authenticated : null,
    authFailed: rx.authFailed,
    payloadOk: rx.payloadOk,
    ok: tx.sent > 0 && rx.payloadOk >= Math.ceil(tx.sent * minShare) && rx.authFailed === 0 && (!srtp || rx.authenticated >= rx.payloadOk),
  });
  return [row('inside->vendor', inside, vendor, true), row('vendor->inside', vendor, inside, false)];
}

/** `sent/received/authenticated/payloadOk`, the report cell for one direction ('-' for no SRTP). */
export function mediaCell(r: MediaRow): string {
  return `${r.sent}/${r.received}/${r.authenticated ?? '-'}/${r.payloadOk}${r.authFailed > 0 ? ` authFailed=${r.authFailed}` : ''}`;
}
