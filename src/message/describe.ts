import type { SipMessage } from './message.js';
import { SipParseError, type Result } from './parse-error.js';
import { parseMessage, type ParseOptions } from './parse-message.js';

/**
 * The whole message as plain data, with every typed view evaluated: what `sips-edge parse`
 * prints. Forces the lazy views, so a malformed Request-URI or From surfaces here.
 */
export function describeMessage(msg: SipMessage): Record<string, unknown> {
  const s = msg.startLine;
  const typed: Record<string, unknown> = {
    via: msg.vias(),
    from: msg.from(),
    to: msg.to(),
    cseq: msg.cseq(),
    callId: msg.callId(),
    maxForwards: msg.maxForwards() ?? null,
    contact: msg.has('contact') ? msg.contacts() : [],
    route: msg.routes(),
    recordRoute: msg.recordRoutes(),
    contentLength: msg.has('content-length') ? Number(msg.get('content-length')) : null,
    contentType: msg.contentType() ?? null,
  };
  return {
    startLine: s.kind === 'request'
      ? { kind: 'request', method: s.method, requestUri: msg.requestUri(), uri: s.uri, version: s.version }
      : { kind: 'response', version: s.version, status: s.status, reason: s.reason },
    headers: msg.headers.map((h) => ({ name: h.name, key: h.key, value: h.value })),
    typed,
    bodyLength: msg.body.length,
  };
}

/** Parse and evaluate every view: the strict check the `parse` command and the proxy's §16.3 share. */
export function parseAndDescribe(data: Buffer, options: ParseOptions = {}): Result<{ message: SipMessage; description: Record<string, unknown> }> {
  const r = parseMessage(data, options);
  if (!r.ok) return r;
  try {
    return { ok: true, value: { message: r.value, description: describeMessage(r.value) } };
  } catch (e) {
    if (e instanceof SipParseError) return { ok: false, error: e };
    throw e;
  }
}
