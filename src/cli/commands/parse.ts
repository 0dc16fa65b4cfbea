import { readFile } from 'node:fs/promises';
import { parseAndDescribe } from '../../message/describe.js';
import type { SipMessage } from '../../message/message.js';
import { StreamFramer } from '../../message/stream-framer.js';
import type { SipParseError } from '../../message/parse-error.js';
import { judgeBody } from '../../sdp/extract-sdp.js';
import { redactSdpKeys } from '../../sdp/redact-sdp-keys.js';
import { describeSdp } from '../../sdp/srtp-policy.js';
import { parseFlags, type CommandIo } from '../args.js';

export const parseHelp = `Usage: sips-edge parse [FILE|-] [--transport udp|stream]

Reads one SIP message (raw bytes) from FILE or standard input and prints it as JSON:
start line, headers in order, typed views of Via/From/To/CSeq/Call-ID/Max-Forwards/
Contact/Route/Record-Route/Content-Length/Content-Type, and the body length. When the
body carries an SDP (also as the application/sdp part of a multipart body), "sdp" shows
it: each m= line as sdp-transform reads it, with crypto key lengths, never keys, and the
SDP lines with a=crypto inline keys, k= and a=key-mgmt redacted. A body the edge cannot
read (encoded, broken multipart, unknown type) shows the refusal reason instead.

  --transport udp     one datagram = one message (default); a body longer than
                      Content-Length is truncated, a shorter one is an error
  --transport stream  TCP/TLS framing: Content-Length is required (RFC 3261 §18.3)

Exit 0 when the message is well formed; otherwise prints
{"error": CODE, "status": 400, "reason": "..."} and exits 1.`;

export async function parseCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { flags, positional } = parseFlags(argv, { transport: 'string', help: 'boolean' });
  if (flags.help) {
    io.out(parseHelp);
    return 0;
  }
  const transport = flags.transport ?? 'udp';
  if (transport !== 'udp' && transport !== 'stream') {
    io.err(`--transport must be udp or stream, got "${String(transport)}"`);
    return 2;
  }
  const file = positional[0] ?? '-';
  const data = file === '-' ? await readStdin() : await readFile(file);
  let input = data;
  if (transport === 'stream') {
    // Run the stream framer first, exactly as a TCP/TLS connection would.
    let framed: Buffer | null = null;
    let error: SipParseError | null = null;
    const framer = new StreamFramer({
      onMessage: (m) => { framed ??= m; },
      onKeepAlive: () => undefined,
      onError: (e) => { error = e; },
    });
    framer.push(data);
    if (error !== null) return fail(io, error);
    if (framed === null) {
      // Not a whole message yet: let the parser say what is missing.
      input = data;
    } else {
      input = framed;
    }
  }
  const r = parseAndDescribe(input, { framing: transport });
  if (!r.ok) return fail(io, r.error);
  const sdp = sdpView(r.value.message);
  io.out(JSON.stringify(sdp === undefined ? r.value.description : { ...r.value.description, sdp }, null, 2));
  return 0;
}

/**
 * The message's SDP for a person to read, judged as the SRTP gate judges it (S-MEDIA-1), or
 * undefined when the body carries none. Keys never appear: describeSdp reports key lengths, and
 * the lines go through redactSdpKeys.
 */
function sdpView(m: SipMessage): Record<string, unknown> | undefined {
  const judged = judgeBody(m.body, { contentType: m.get('content-type'), contentEncoding: m.get('content-encoding'), contentTransferEncoding: m.get('content-transfer-encoding') });
  if (judged === null) return undefined;
  if (typeof judged !== 'string') return { ...judged.error };
  const lines = redactSdpKeys(judged).split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return { ...describeSdp(judged), lines };
}

function fail(io: CommandIo, error: SipParseError): number {
  io.out(JSON.stringify(error.toJSON()));
  return 1;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
