/**
 * Issue 11: a header value that only fails when the proxy reads it (lazy parsing: Route, Contact,
 * From/To, Via parameters, CSeq, Max-Forwards, Request-URI) is bad input: 400 with a reason code,
 * never the 500 of an internal error. Sent over UDP and TCP to the edge process; a valid call
 * afterwards still completes (the lb is a scripted TLS stand-in).
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newTag } from '../../src/message/build-response.js';
import { parseMessage } from '../../src/message/parse-message.js';
import { StreamFramer } from '../../src/message/stream-framer.js';
import { makeOffer } from '../../src/lab/lab-sdp.js';
import { generateLabPki, type LabPki } from '../../src/tls/lab-pki.js';
import { EdgeProcess } from '../helpers/edge-process.js';
import { ANSWER, StandInLb, UdpCaller } from '../helpers/failover-lb.js';
import { IT_REGION, LB_HOSTS, labFiles } from '../helpers/lab-region.js';

const LB01 = LB_HOSTS[0]!;
const NUMBER = '4969200000';

let dir: string;
let pki: LabPki;
let lb: StandInLb;
let edge: EdgeProcess;

/** One malformed header per case: [what, header name to replace or add, bad value]. */
const CASES: readonly (readonly [string, string, string])[] = [
  ['Route with no URI', 'Route', '<<<sip:::>>>'],
  ['Route with an empty host', 'Route', '<sip:@;lr>'],
  ['Contact without a closing bracket', 'Contact', '<sip:pbx@127.0.0.1'],
  ['From without a URI', 'From', '<>;tag=1'],
  ['To with a bad URI', 'To', '<sip:::>'],
  ['CSeq without a number', 'CSeq', 'x INVITE'],
  ['Max-Forwards not a number', 'Max-Forwards', 'many'],
  ['Record-Route with no URI', 'Record-Route', '<<<sip:::>>>'],
];

function invite(o: { transport: 'UDP' | 'TCP' | 'TLS'; port: number; edgePort: number; replace?: readonly [string, string]; ruri?: string }): string {
  const sdp = makeOffer({ user: 'pbx', address: '127.0.0.1', srtp: true });
  const headers: [string, string][] = [
    ['Via', `SIP/2.0/${o.transport} 127.0.0.1:${o.port};branch=z9hG4bK-p-${newTag()};rport`],
    ['Max-Forwards', '70'],
    ['From', `<sip:pbx@127.0.0.1>;tag=${newTag()}`],
    ['To', `<sip:${NUMBER}@127.0.0.1>`],
    ['Call-ID', `parse-${newTag()}@127.0.0.1`],
    ['CSeq', '1 INVITE'],
    ['Contact', `<sip:pbx@127.0.0.1:${o.port}>`],
    ['Content-Type', 'application/sdp'],
  ];
  if (o.replace !== undefined) {
    const i = headers.findIndex(([n]) => n === o.replace![0]);
    if (i >= 0) headers[i] = [o.replace[0], o.replace[1]];
    else headers.splice(2, 0, [o.replace[0], o.replace[1]]);
  }
  const ruri = o.ruri ?? `sip:${NUMBER}@127.0.0.1:${o.edgePort}`;
  return [`INVITE ${ruri} SIP/2.0`, ...headers.map(([n, v]) => `${n}: ${v}`), `Content-Length: ${Buffer.byteLength(sdp)}`, '', sdp].join('\r\n');
}

/** Status and Warning of a final response; read from the text when it echoes the malformed header (Bad CSeq). */
interface Answer {
  readonly status: number;
  readonly warning: string;
}

function answerOf(data: Buffer, framing: 'udp' | 'stream'): Answer | null {
  const r = parseMessage(data, { framing });
  if (r.ok) return r.value.status >= 200 ? { status: r.value.status, warning: r.value.get('warning') ?? '' } : null;
  const text = data.toString('latin1');
  const m = /^SIP\/2\.0 (\d{3}) /.exec(text);
  if (m === null || Number(m[1]) < 200) return null;
  return { status: Number(m[1]), warning: /^Warning: (.*)$/m.exec(text)?.[1] ?? '' };
}

/** Sends one message over UDP and returns the first final response (or null: no response in 3 s). */
async function overUdp(make: (port: number) => string, edgePort: number): Promise<Answer | null> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  try {
    return await new Promise<Answer | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), 3000);
      sock.on('message', (d) => {
        const a = answerOf(d, 'udp');
        if (a !== null) { clearTimeout(timer); resolve(a); }
      });
      sock.send(make(sock.address().port), edgePort, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

async function overTcp(make: (port: number) => string, edgePort: number, secure = false): Promise<Answer | null> {
  const s = secure ? tls.connect({ port: edgePort, host: '127.0.0.1', rejectUnauthorized: false, servername: labFiles(pki).edgeName }) : net.connect(edgePort, '127.0.0.1');
  await new Promise<void>((r, j) => { s.once(secure ? 'secureConnect' : 'connect', () => r()); s.once('error', j); });
  try {
    return await new Promise<Answer | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), 3000);
      const framer = new StreamFramer({
        onMessage: (d) => {
          const a = answerOf(Buffer.from(d), 'stream');
          if (a !== null) { clearTimeout(timer); resolve(a); }
        },
        onKeepAlive: () => undefined,
        onError: () => undefined,
      });
      s.on('data', (d: Buffer) => framer.push(d));
      s.write(make(s.localPort ?? 0));
    });
  } finally {
    s.destroy();
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sips-edge-failover-parse-'));
  pki = generateLabPki({ outDir: join(dir, 'pki'), regions: [IT_REGION.code] });
  lb = await StandInLb.start(LB01, pki);
  lb.script = ANSWER;
  const f = labFiles(pki);
  const q = (s: string): string => JSON.stringify(s);
  edge = await EdgeProcess.start(`edge:
  name: ${f.edgeName}
  drainTimeoutSeconds: 0
listen:
  - { name: outside-tls, side: outside, transport: tls, address: 127.0.0.1, port: 0 }
  - { name: inside-udp, side: inside, transport: udp, address: 127.0.0.1, port: 0 }
  - { name: inside-tcp, side: inside, transport: tcp, address: 127.0.0.1, port: 0 }
tls:
  handshakeTimeoutMs: 2000
  revocation: soft
  crlFiles: [${f.crls.map(q).join(', ')}]
  identities:
    - { cert: ${q(f.edgeChain)}, key: ${q(f.edgeKey)} }
dns:
  overrides:
    ${LB01}: [127.0.0.1]
trunks:
  - name: main
    region: ${IT_REGION.code}
    mode: dnis
    hosts:
      - { host: ${LB01}, port: ${lb.port} }
    trust: { files: [${f.roots.map(q).join(', ')}] }
    health: { enabled: false }
peers:
  - { name: pbx, host: 127.0.0.1, port: 5999, transport: udp, sources: [127.0.0.1/32] }
routing:
  defaultTrunk: main
  defaultPeer: pbx
  vendorSources: [127.0.0.1/32]
srtp: { policy: strict }
admin: { enabled: false }
logging: { level: info }
`);
});

after(async () => {
  if (edge !== undefined) {
    const bound = setTimeout(() => edge.proc.kill('SIGKILL'), 10_000);
    await edge.stop();
    clearTimeout(bound);
  }
  await lb?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('malformed header values reached by lazy parsing answer 400 (never 500)', { timeout: 60_000 }, () => {
  for (const transport of ['UDP', 'TCP'] as const) {
    it(`over ${transport}: each case gets 400 with a reason code`, async () => {
      const edgePort = edge.port('inside', transport === 'UDP' ? 'udp' : 'tcp');
      const send = transport === 'UDP' ? overUdp : overTcp;
      const cases: [string, (port: number) => string][] = CASES.map(([what, name, value]) => [what, (port) => invite({ transport, port, edgePort, replace: [name, value] })]);
      cases.push(['Via with a bad rport', (port) => invite({ transport, port, edgePort, replace: ['Via', `SIP/2.0/${transport} 127.0.0.1:${port};branch=z9hG4bK-p-${newTag()};rport=x`] })]);
      cases.push(['Request-URI with a bad host', (port) => invite({ transport, port, edgePort, ruri: 'sip:1234@[::1' })]);
      const seen: string[] = [];
      for (const [what, make] of cases) {
        const res = await send(make, edgePort);
        seen.push(`${what}: ${res === null ? 'no response' : `${res.status} ${res.warning}`}`);
      }
      for (const line of seen) assert.match(line, /: 400 /, seen.join('\n'));
      for (const line of seen) assert.match(line, /SIPS_ERR_PARSE_[A-Z_]+/, line);
      // Nothing malformed reached the lb host.
      assert.equal(lb.invites.length, 0, 'no malformed INVITE was forwarded');
    });
  }

  it('toward the vendor (outside TLS) the Warning carries the code only; toward the inside the text too (logging.warningDetail)', async () => {
    const outside = await overTcp((port) => invite({ transport: 'TLS', port, edgePort: 5061, replace: ['Route', '<<<sip:::>>>'] }), edge.port('outside', 'tls'), true);
    assert.equal(outside?.status, 400);
    assert.match(outside?.warning ?? '', /^399 \S+ "SIPS_ERR_PROXY_BAD_REQUEST"$/);
    const inside = await overUdp((port) => invite({ transport: 'UDP', port, edgePort: edge.port('inside', 'udp'), replace: ['Route', '<<<sip:::>>>'] }), edge.port('inside', 'udp'));
    assert.match(inside?.warning ?? '', /^399 \S+ "SIPS_ERR_PROXY_BAD_REQUEST: SIPS_ERR_PARSE_URI: /);
  });

  it('the edge still completes a valid call afterwards', async () => {
    const caller = await UdpCaller.start(edge.port('inside', 'udp'));
    try {
      const callId = caller.invite(NUMBER);
      assert.equal((await caller.final(callId)).status, 200);
      assert.equal(lb.count(lb.invites, callId), 1);
    } finally {
      caller.close();
    }
    assert.equal(edge.proc.exitCode, null);
  });
});
