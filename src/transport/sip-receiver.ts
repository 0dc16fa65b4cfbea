/**
 * The RFC 3261 §18.2 receive path: framed bytes from a listener become a parsed message with the
 * Via stamped (`received`, RFC 3581 `rport`) and the peer address it came from, or, when they do
 * not parse, a raw 400 (505/513) straight back where the request permits one. The layer above
 * (the transaction layer) only ever sees whole, stamped messages.
 */
import { formatVia, receivedVia } from '../message/headers.js';
import type { SipMessage } from '../message/message.js';
import type { MessageLimits } from '../message/constants.js';
import type { SipParseError } from '../message/parse-error.js';
import { parseMessage, type ParseOptions } from '../message/parse-message.js';
import { rawErrorResponse } from '../message/raw-error-response.js';
import type { MessageHandler } from './transport.js';
import type { PeerAddress, ReceivedMessage } from './types.js';

export interface SipReceiverOptions {
  readonly messageLimits: Partial<MessageLimits>;
  /** Server name for the raw error responses. */
  readonly agent: string;
  /** A parsed request (Via stamped) or response, with the address it came from. */
  readonly deliver: (msg: SipMessage, source: PeerAddress) => void;
  /** Sends a raw error response back to where the bytes came from (its flow, or UDP). */
  readonly reply: (data: Buffer, to: PeerAddress) => void;
  /**
   * Whether unparsable bytes from this source get an answer at all: the hook for the admission
   * decision (no answers to spoofable UDP strangers, a budget for everyone else).
   */
  readonly mayAnswerMalformed: (source: PeerAddress) => boolean;
  /** Every unparsable message (the log line; the caller rate-limits it). */
  readonly onMalformed?: (error: SipParseError, m: ReceivedMessage) => void;
  /** A bug reached by some message in `deliver`: reported, the message dropped, never a crash. */
  readonly onDeliverError?: (error: unknown, msg: SipMessage) => void;
  /**
   * Several workers (worker-handoff.ts): true when the parsed message belongs to another worker
   * and was handed to it as received, before any stamping; it is then not delivered here.
   */
  readonly divert?: (msg: SipMessage, m: ReceivedMessage) => boolean;
}

export function createSipReceiver(o: SipReceiverOptions): MessageHandler {
  // One options object per framing, the same each time (the parser merges its limits once).
  const udp: ParseOptions = { framing: 'udp', limits: o.messageLimits };
  const stream: ParseOptions = { framing: 'stream', limits: o.messageLimits };
  return (m) => {
    const r = parseMessage(m.data, m.transport === 'udp' ? udp : stream);
    const source: PeerAddress = m.flow
      ? { transport: m.transport, address: m.remote.address, port: m.remote.port, localAddress: m.local.address, localPort: m.local.port, flowId: m.flow.id }
      : { transport: m.transport, address: m.remote.address, port: m.remote.port, localAddress: m.local.address, localPort: m.local.port };
    if (!r.ok) {
      // Malformed: a 400 (505/513) with the reason when it was a request we can answer; never forwarded.
      o.onMalformed?.(r.error, m);
      // Asked first: a malformed flood from a UDP stranger costs no 400 built only to be dropped.
      if (!o.mayAnswerMalformed(source)) return;
      const answer = rawErrorResponse(m.data, r.error, o.agent);
      if (answer !== null) o.reply(answer, source);
      return;
    }
    const msg = r.value;
    if (o.divert !== undefined && o.divert(msg, m)) return;
    if (msg.isRequest) {
      // RFC 3261 §18.2.1 + RFC 3581 §4: stamp where the request really came from, so every
      // response (ours and forwarded ones) goes back to the address and port it was sent from.
      const via = msg.via();
      const bare = via.host.startsWith('[') ? via.host.slice(1, -1) : via.host;
      if (bare !== m.remote.address || via.rport !== undefined) {
        const stamped = receivedVia(via, m.remote.address, m.remote.port);
        msg.shift('via');
        msg.prepend('via', formatVia(stamped));
        msg.remember(stamped);
      }
    }
    try {
      o.deliver(msg, source);
    } catch (e) {
      o.onDeliverError?.(e, msg);
    }
  };
}
