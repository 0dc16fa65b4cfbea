/**
 * Issue 11 items 12 and 13, against the running edge (its own process):
 *
 * 12. A body toward the vendor (an SRTP-required leg) is judged by what it is, not by its label: a
 *     clear-RTP offer without Content-Type or labelled text/plain is refused (488, not-savp), an SRTP
 *     offer labelled text/plain is checked and forwarded, and a body the edge cannot read (unknown
 *     media type, Content-Encoding gzip, base64 Content-Transfer-Encoding, a base64 multipart part) is
 *     refused with SIPS_ERR_SDP_UNKNOWN_BODY / SIPS_ERR_SDP_ENCODED_BODY. Nothing refused reaches the lb.
 * 13. With debug logs and a HEP collector on loopback, such bodies are never seen: keys of readable
 *     SDP are redacted, unreadable bodies are replaced whole.
 *
 * The PBX is a raw UDP socket on 127.0.0.1; the lb stand-in is a UDP socket (the trunk is
 * `insecure: true` over UDP, as the SRTP check does not depend on the transport) answering 486.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EdgeProcess } from '../helpers/edge-process.js';
import { udpTrunkConfig } from '../helpers/edge-configs.js';

/** 30 bytes (AES_CM_128 master key + salt, RFC 4568 §6.2) as base64. */
const KEY = Buffer.from('tlssdp-secret-master-key-salt!').toString('base64');
const SRTP_SDP = ['v=0', 'o=pbx 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 20000 RTP/SAVP 0', `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY}`, 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');
const RTP_SDP = ['v=0', 'o=pbx 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 20000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');
const B64_BODY = Buffer.from(SRTP_SDP).toString('base64');

async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return s;
}

function lines(msg: string): string[] {
  return msg.slice(0, msg.indexOf('\r\n\r\n')).split('\r\n');
}

function header(msg: string, name: string): string | undefined {
  const l = lines(msg).find((x) => x.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return l?.slice(l.indexOf(':') + 1).trim();
}

let edge: EdgeProcess;
let pbx: Socket;
let lb: Socket;
let hep: Socket;
const hepPackets: Buffer[] = [];
const lbInvites: string[] = [];
let hepWaiters: { pred: (p: Buffer) => boolean; resolve: () => void }[] = [];
const responses = new Map<string, ((m: string) => void)[]>();

before(async () => {
  lb = await udp();
  lb.on('message', (d, r) => {
    const text = d.toString('latin1');
    if (!text.startsWith('INVITE ')) return;
    lbInvites.push(text);
    const copy = lines(text).filter((l) => /^(via|from|to|call-id|cseq):/i.test(l));
    lb.send(`SIP/2.0 486 Busy Here\r\n${copy.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`, r.port, r.address);
  });
  hep = await udp();
  hep.on('message', (d) => {
    hepPackets.push(d);
    hepWaiters = hepWaiters.filter((w) => (w.pred(d) ? (w.resolve(), false) : true));
  });
  pbx = await udp();
  pbx.on('message', (d) => {
    const text = d.toString('latin1');
    const status = Number(/^SIP\/2\.0 (\d{3})/.exec(text)?.[1] ?? 0);
    if (status < 200) return;
    const waiters = responses.get(header(text, 'call-id') ?? '');
    waiters?.shift()?.(text);
  });
  const hepPort = (hep.address() as AddressInfo).port;
  edge = await EdgeProcess.start(udpTrunkConfig({
    farPorts: [(lb.address() as AddressInfo).port],
    failover: 1,
    extra: `logging:\n  level: debug\n  hep: { address: 127.0.0.1, port: ${hepPort}, captureId: 11 }\n`,
  }));
});

after(async () => {
  await edge?.stop();
  for (const s of [pbx, lb, hep]) s?.close();
});

let n = 0;

/** An INVITE from the PBX with `headers` and `body`; resolves with the final response. */
function invite(tag: string, extraHeaders: readonly string[], body: Buffer | string): Promise<{ callId: string; final: string }> {
  const callId = `tlssdp-${tag}-${++n}@127.0.0.1`;
  const port = (pbx.address() as AddressInfo).port;
  const b = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  const head = [
    `INVITE sip:4930111222@127.0.0.1:${edge.port('inside', 'udp')} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-tlssdp-${n};rport`,
    'Max-Forwards: 70',
    `From: <sip:pbx@127.0.0.1>;tag=t${n}`,
    '<sip:4930111222@127.0.0.1>'.replace(/^/, 'To: '),
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:pbx@127.0.0.1:${port}>`,
    ...extraHeaders,
    `Content-Length: ${b.length}`,
    '',
    '',
  ].join('\r\n');
  const final = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no final response to ${tag}`)), 10_000);
    responses.set(callId, [...(responses.get(callId) ?? []), (m) => { clearTimeout(timer); resolve(m); }]);
  });
  pbx.send(Buffer.concat([Buffer.from(head, 'latin1'), b]), edge.port('inside', 'udp'), '127.0.0.1');
  return final.then((f) => ({ callId, final: f }));
}

function status(m: string): number {
  return Number(m.slice(8, 11));
}

function refusedWith(r: { final: string }, code: string): void {
  assert.equal(status(r.final), 488, r.final);
  assert.match(header(r.final, 'warning') ?? '', new RegExp(code), r.final);
}

function reachedLb(callId: string): boolean {
  return lbInvites.some((i) => i.includes(callId));
}

/** Every debug SIP trace and every HEP packet of a call, once the edge logged its transaction line. */
async function seen(callId: string): Promise<{ traces: string[]; hep: string[] }> {
  const finalOut = (t: string): boolean => t.includes(callId) && /^SIP\/2\.0 [2-6]\d\d/.test(t);
  await edge.line(`trace of the final response of ${callId}`, (l) => l.event === 'sip' && l['dir'] === 'out' && finalOut(String(l['sip'])));
  // The HEP packet of the final response leaves with it: wait (bounded) for the packet that carries it.
  const pred = (p: Buffer): boolean => p.includes(callId) && /SIP\/2\.0 [2-6]\d\d/.test(p.toString('latin1'));
  if (!hepPackets.some(pred)) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => hepWaiters.push({ pred, resolve })),
      new Promise<void>((_, reject) => { timer = setTimeout(() => reject(new Error(`no HEP packet of the final response of ${callId}`)), 5000); }),
    ]).finally(() => clearTimeout(timer));
  }
  const traces = edge.logs.filter((l) => l.event === 'sip' && String(l['sip']).includes(callId)).map((l) => String(l['sip']));
  const hepText = hepPackets.filter((p) => p.includes(callId)).map((p) => p.toString('latin1'));
  return { traces, hep: hepText };
}

function noneContains(texts: readonly string[], secret: string, what: string): void {
  for (const t of texts) assert.ok(!t.includes(secret), `${what} leaked:\n${t}`);
}

describe('bodies toward the vendor are judged (issue 11 item 12)', () => {
  it('a clear-RTP offer without Content-Type is refused (not-savp) and never reaches the lb', async () => {
    const r = await invite('noct', [], RTP_SDP);
    refusedWith(r, 'SIPS_ERR_SDP_NOT_SAVP');
    assert.ok(!reachedLb(r.callId));
  });

  it('a clear-RTP offer labelled text/plain is refused (not-savp)', async () => {
    const r = await invite('plain', ['Content-Type: text/plain'], RTP_SDP);
    refusedWith(r, 'SIPS_ERR_SDP_NOT_SAVP');
    assert.ok(!reachedLb(r.callId));
  });

  it('an SRTP offer labelled text/plain is checked and forwarded', async () => {
    const r = await invite('plain-srtp', ['Content-Type: text/plain'], SRTP_SDP);
    assert.equal(status(r.final), 486, r.final);
    assert.ok(reachedLb(r.callId));
  });

  it('an unknown body type is refused with SIPS_ERR_SDP_UNKNOWN_BODY', async () => {
    const r = await invite('unknown', ['Content-Type: application/x-vendor-blob'], 'opaque bytes');
    refusedWith(r, 'SIPS_ERR_SDP_UNKNOWN_BODY');
    assert.ok(!reachedLb(r.callId));
  });

  it('a gzip Content-Encoding body is refused with SIPS_ERR_SDP_ENCODED_BODY', async () => {
    const r = await invite('gzip', ['Content-Type: application/sdp', 'Content-Encoding: gzip'], gzipSync(RTP_SDP));
    refusedWith(r, 'SIPS_ERR_SDP_ENCODED_BODY');
    assert.ok(!reachedLb(r.callId));
  });

  it('a base64 Content-Transfer-Encoding body is refused with SIPS_ERR_SDP_ENCODED_BODY', async () => {
    const r = await invite('b64', ['Content-Type: application/sdp', 'Content-Transfer-Encoding: base64'], B64_BODY);
    refusedWith(r, 'SIPS_ERR_SDP_ENCODED_BODY');
    assert.ok(!reachedLb(r.callId));
  });

  it('a multipart body with a base64 SDP part is refused with SIPS_ERR_SDP_ENCODED_BODY', async () => {
    const body = `--b1\r\nContent-Type: application/sdp\r\nContent-Transfer-Encoding: base64\r\n\r\n${B64_BODY}\r\n--b1--\r\n`;
    const r = await invite('mp-b64', ['Content-Type: multipart/mixed;boundary=b1'], body);
    refusedWith(r, 'SIPS_ERR_SDP_ENCODED_BODY');
    assert.ok(!reachedLb(r.callId));
  });

  it('a known non-SDP body (application/isup, no offer) is forwarded', async () => {
    const r = await invite('isup', ['Content-Type: application/isup;version=itu-t92+'], Buffer.from([0x01, 0x00, 0x49, 0x00]));
    assert.equal(status(r.final), 486, r.final);
    assert.ok(reachedLb(r.callId));
  });
});

describe('debug log and HEP never see a key (issue 11 item 13)', () => {
  it('base64 SDP body: replaced whole in the debug trace and in HEP', async () => {
    const r = await invite('b64-log', ['Content-Type: application/sdp', 'Content-Transfer-Encoding: base64'], B64_BODY);
    const s = await seen(r.callId);
    assert.ok(s.traces.length > 0 && s.hep.length > 0, 'the INVITE was traced and captured');
    for (const [what, texts] of [['debug log', s.traces], ['HEP', s.hep]] as const) {
      noneContains(texts, B64_BODY.slice(0, 24), what);
      noneContains(texts, KEY, what);
      assert.ok(texts.some((t) => t.includes('[body redacted') && t.includes('encoded-body')), `${what} marks the body as redacted`);
    }
  });

  it('gzip body and a multipart base64 part: replaced whole', async () => {
    const gz = gzipSync(SRTP_SDP);
    const a = await invite('gz-log', ['Content-Type: application/sdp', 'Content-Encoding: gzip'], gz);
    const body = `--b2\r\nContent-Type: application/sdp\r\nContent-Transfer-Encoding: base64\r\n\r\n${B64_BODY}\r\n--b2--\r\n`;
    const b = await invite('mp-log', ['Content-Type: multipart/mixed;boundary=b2'], body);
    for (const callId of [a.callId, b.callId]) {
      const s = await seen(callId);
      for (const t of [...s.traces, ...s.hep]) {
        assert.ok(!t.includes(B64_BODY.slice(0, 24)) && !t.includes(gz.subarray(10, 30).toString('latin1')), `body leaked:\n${t}`);
      }
      assert.ok(s.traces.some((t) => t.includes('[body redacted')));
      assert.ok(s.hep.some((t) => t.includes('[body redacted')));
    }
  });

  it('an unknown body type: replaced whole', async () => {
    const r = await invite('unk-log', ['Content-Type: application/x-vendor-blob'], `opaque ${KEY}`);
    const s = await seen(r.callId);
    noneContains([...s.traces, ...s.hep], KEY, 'log/HEP');
    assert.ok(s.traces.some((t) => t.includes('[body redacted') && t.includes('unknown-body')));
  });

  it('a readable SDP (text/plain label): the inline key is redacted, the rest kept', async () => {
    const r = await invite('plain-log', ['Content-Type: text/plain'], SRTP_SDP);
    const s = await seen(r.callId);
    noneContains([...s.traces, ...s.hep], KEY, 'log/HEP');
    assert.ok(s.traces.some((t) => t.includes('inline:[redacted]') && t.includes('m=audio 20000 RTP/SAVP 0')));
  });
});
