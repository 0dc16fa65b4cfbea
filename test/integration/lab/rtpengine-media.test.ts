/**
 * Interop of the lab's SRTP with a real one: Debian's rtpengine bridges a carrier CallMedia (RTP/AVP)
 * to a vendor CallMedia (RTP/SAVP, SDES), driven directly over its ng protocol (bencode over UDP,
 * a minimal codec here: the edge's own client is src/media/'s job). 50 packets each way: the vendor
 * authenticates what rtpengine encrypted with the key rtpengine wrote toward it, and the carrier
 * gets the vendor's payload back, decrypted by rtpengine with the vendor's key (RFC 4568 §6.1).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { openCarrierMedia } from '../../../src/lab/media/rtp-carrier.js';
import { readAudio } from '../../../src/lab/media/sdp-media.js';
import { openVendorMedia } from '../../../src/lab/media/srtp-vendor.js';
import type { CallMedia } from '../../../src/lab/media/call-media.js';
import { freeUdpPort } from '../../helpers/ports.js';

type B = string | number | B[] | { [k: string]: B };

function bencode(v: B): Buffer {
  if (typeof v === 'number') return Buffer.from(`i${v}e`);
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'latin1');
    return Buffer.concat([Buffer.from(`${b.length}:`), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([Buffer.from('l'), ...v.map(bencode), Buffer.from('e')]);
  const keys = Object.keys(v).sort();
  return Buffer.concat([Buffer.from('d'), ...keys.flatMap((k) => [bencode(k), bencode(v[k]!)]), Buffer.from('e')]);
}

function bdecode(b: Buffer, at = 0): [B, number] {
  const c = String.fromCharCode(b[at]!);
  if (c === 'i') {
    const end = b.indexOf(0x65, at);
    return [Number(b.subarray(at + 1, end).toString()), end + 1];
  }
  if (c === 'l' || c === 'd') {
    const items: B[] = [];
    let p = at + 1;
    while (b[p] !== 0x65) {
      const [x, n] = bdecode(b, p);
      items.push(x);
      p = n;
    }
    if (c === 'l') return [items, p + 1];
    const o: Record<string, B> = {};
    for (let i = 0; i < items.length; i += 2) o[items[i] as string] = items[i + 1]!;
    return [o, p + 1];
  }
  const colon = b.indexOf(0x3a, at);
  const len = Number(b.subarray(at, colon).toString());
  return [b.subarray(colon + 1, colon + 1 + len).toString('latin1'), colon + 1 + len];
}

class Ng {
  private readonly pending = new Map<string, (r: Record<string, B>) => void>();
  constructor(private readonly s: Socket, private readonly port: number) {
    s.on('message', (m) => {
      const sp = m.indexOf(0x20);
      const cookie = m.subarray(0, sp).toString();
      const [r] = bdecode(m, sp + 1);
      this.pending.get(cookie)?.(r as Record<string, B>);
      this.pending.delete(cookie);
    });
  }
  /** One ng request; resent every 200 ms (UDP), bounded by `ms`. */
  req(msg: Record<string, B>, ms = 5000): Promise<Record<string, B>> {
    const cookie = randomBytes(6).toString('hex');
    const data = Buffer.concat([Buffer.from(`${cookie} `), bencode(msg)]);
    return new Promise((resolve, reject) => {
      const send = (): void => { this.s.send(data, this.port, '127.0.0.1'); };
      const every = setInterval(send, 200);
      const t = setTimeout(() => { clearInterval(every); this.pending.delete(cookie); reject(new Error(`rtpengine: no answer to ${String(msg['command'])}`)); }, ms);
      this.pending.set(cookie, (r) => { clearInterval(every); clearTimeout(t); resolve(r); });
      send();
    });
  }
}


describe('lab SRTP against rtpengine', () => {
  let proc: ChildProcess;
  let sock: Socket;
  let ng: Ng;
  let log = '';
  const media: CallMedia[] = [];
  before(async () => {
    const ngPort = await freeUdpPort();
    const portMin = 30_000 + 2 * Math.floor(Math.random() * 4000);
    proc = spawn('rtpengine', [
      '--config-file=none', '--foreground', '--log-stderr', '--table=-1', '--interface=127.0.0.1',
      `--listen-ng=127.0.0.1:${ngPort}`, `--port-min=${portMin}`, `--port-max=${portMin + 199}`, '--log-level=5',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.on('data', (d: Buffer) => { log += d.toString(); });
    proc.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
    sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    ng = new Ng(sock, ngPort);
    // Ready when it answers ping (the request is resent until then, bounded).
    const pong = await ng.req({ command: 'ping' }, 10_000);
    assert.equal(pong['result'], 'pong');
  });
  after(async () => {
    await Promise.all(media.map((m) => m.close()));
    sock?.close();
    if (proc?.pid !== undefined && proc.exitCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      process.kill(proc.pid, 'SIGTERM');
      await gone;
    }
  });

  it('carrier RTP <-> rtpengine <-> vendor SRTP: 50 packets each way, all authenticated, payloads intact', async () => {
    const carrier = await openCarrierMedia();
    const vendor = await openVendorMedia();
    media.push(carrier, vendor);
    const callId = randomBytes(8).toString('hex');
    const offer = await ng.req({
      command: 'offer', 'call-id': callId, 'from-tag': 'carrier', sdp: carrier.offer(),
      'transport-protocol': 'RTP/SAVP', ICE: 'remove',
    });
    assert.equal(offer['result'], 'ok', JSON.stringify(offer));
    const towardVendor = offer['sdp'] as string;
    assert.equal(readAudio(towardVendor)?.proto, 'RTP/SAVP');
    const vendorAnswer = vendor.answer(towardVendor);
    assert.ok(vendorAnswer !== null, `vendor refused rtpengine's offer: ${vendor.refusal}`);
    const answer = await ng.req({
      command: 'answer', 'call-id': callId, 'from-tag': 'carrier', 'to-tag': 'vendor', sdp: vendorAnswer,
      'transport-protocol': 'RTP/AVP', ICE: 'remove',
    });
    assert.equal(answer['result'], 'ok', JSON.stringify(answer));
    assert.ok(carrier.accept(answer['sdp'] as string), `carrier refused rtpengine's answer: ${carrier.refusal}`);
    vendor.start({ packets: 50 });
    carrier.start({ packets: 50 });
    await Promise.all([carrier.done(), vendor.done()]);
    const v = await vendor.waitFor((s) => s.payloadOk >= 45);
    const c = await carrier.waitFor((s) => s.payloadOk >= 45);
    assert.equal(v.sent, 50);
    assert.equal(c.sent, 50);
    // rtpengine offers 12 SDES suites (AEAD, AES-256/192, F8, NULL first or among them): the vendor takes an AES_CM_128 one.
    assert.match(vendorAnswer, /a=crypto:\d+ AES_CM_128_HMAC_SHA1_(80|32) inline:/);
    assert.equal(v.authFailed, 0);
    assert.equal(v.authenticated, v.payloadOk);
    assert.equal(c.authFailed, 0);
    assert.equal(c.authenticated, 0, 'the carrier side is plain RTP');
    const del = await ng.req({ command: 'delete', 'call-id': callId, 'from-tag': 'carrier' });
    assert.equal(del['result'], 'ok');
  });
});
