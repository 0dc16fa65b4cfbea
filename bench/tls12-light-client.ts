/**
 * A TLS 1.2 client for handshake-rate benches that costs the server a whole full handshake and itself
 * almost nothing: ECDHE-RSA-AES256-GCM-SHA384 on secp384r1 (the policy's first cipher, S-TLS-3/S-TLS-5)
 * with the ephemeral private key fixed at 1.
 *
 * Why: a real client's half of a full handshake (a P-384 key pair and the shared secret, two scalar
 * multiplications) costs about what the server's does, so on a machine whose cores the client shares
 * with the edge, the client takes the core a second worker would use and `workers: auto` cannot show
 * its scaling (docs/scale.md). With the private key 1 the client's public key is the curve's generator
 * G, which is a valid point (the server checks it), and the shared secret d_s·G is the server's own
 * public key: the client reads the premaster secret (its x coordinate, RFC 8422 §5.10) from the
 * ServerKeyExchange instead of computing it. The server does all of its usual work: a fresh key pair, the
 * RSA signature over its parameters, the scalar multiplication with the client's point, the key
 * schedule, and it verifies the client's Finished before sending its own. This client verifies the
 * server's Finished (RFC 5246 §7.4.9), so a handshake counts only when both sides agreed on the keys.
 * It does not check the certificate or the ServerKeyExchange signature: a load generator, not a client
 * to trust anything to. No session ID or ticket is offered or kept (every handshake is a new one).
 */
import { createCipheriv, createDecipheriv, createECDH, createHash, hash, randomFillSync, timingSafeEqual } from 'node:crypto';
import net from 'node:net';

const CIPHER_ECDHE_RSA_AES256_GCM_SHA384 = 0xc030;
const GROUP_SECP384R1 = 0x0018;
const REC_CCS = 20;
const REC_ALERT = 21;
const REC_HANDSHAKE = 22;
const HS_SERVER_HELLO = 2;
const HS_CERTIFICATE = 11;
const HS_SERVER_KEY_EXCHANGE = 12;
const HS_CERTIFICATE_REQUEST = 13;
const HS_SERVER_HELLO_DONE = 14;
const HS_CLIENT_KEY_EXCHANGE = 16;
const HS_FINISHED = 20;

/** The generator of P-384, uncompressed: the public key of the private key 1. */
const GENERATOR = ((): Buffer => {
  const one = Buffer.alloc(48);
  one[47] = 1;
  const ecdh = createECDH('secp384r1');
  ecdh.setPrivateKey(one);
  return ecdh.getPublicKey();
})();

export class LightHandshakeError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function u24(n: number): Buffer {
  return Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}
function handshake(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type]), u24(body.length), body]);
}
function record(type: number, version: number, fragment: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type]), u16(version), u16(fragment.length), fragment]);
}
function extension(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), u16(data.length), data]);
}

const SHA384_BLOCK = 128;

/**
 * HMAC-SHA-384 (RFC 2104) from two one-shot hashes: `createHmac` turns its key into a KeyObject on
 * every call, which was the client's largest cost (a third of its CPU). Keys here are at most 48 bytes.
 */
function hmac384(key: Buffer, ...parts: Buffer[]): Buffer {
  const ipad = Buffer.alloc(SHA384_BLOCK, 0x36);
  const opad = Buffer.alloc(SHA384_BLOCK + 48, 0x5c);
  for (let i = 0; i < key.length; i++) { ipad[i]! ^= key[i]!; opad[i]! ^= key[i]!; }
  // One-shot hashes: no Hash object per step.
  hash('sha384', Buffer.concat([ipad, ...parts]), 'buffer').copy(opad, SHA384_BLOCK);
  return hash('sha384', opad, 'buffer');
}

/** The client's key exchange never changes (its public key is G), nor the ChangeCipherSpec after it. */
const CLIENT_KEY_EXCHANGE = handshake(HS_CLIENT_KEY_EXCHANGE, Buffer.concat([Buffer.from([GENERATOR.length]), GENERATOR]));
const CKE_AND_CCS_RECORDS = Buffer.concat([record(REC_HANDSHAKE, 0x0303, CLIENT_KEY_EXCHANGE), record(REC_CCS, 0x0303, Buffer.from([1]))]);

/** RFC 5246 §5: P_SHA384 (the PRF of the suite's SHA-384). */
export function prf384(secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  const ls = Buffer.concat([Buffer.from(label, 'latin1'), seed]);
  const out: Buffer[] = [];
  let a: Buffer = ls;
  let have = 0;
  while (have < length) {
    a = hmac384(secret, a);
    const block = hmac384(secret, a, ls);
    out.push(block);
    have += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

const helloTemplates = new Map<string, Buffer>();
/** The ClientHello for `servername` with `random` written in (offset 6: after the handshake header and version). */
function clientHello(random: Buffer, servername: string): Buffer {
  let t = helloTemplates.get(servername);
  if (t === undefined) helloTemplates.set(servername, (t = buildClientHello(servername)));
  const h = Buffer.from(t);
  random.copy(h, 6);
  return h;
}

function buildClientHello(servername: string): Buffer {
  const random = Buffer.alloc(32);
  const name = Buffer.from(servername, 'ascii');
  const extensions = Buffer.concat([
    extension(0x0000, Buffer.concat([u16(name.length + 3), Buffer.from([0]), u16(name.length), name])), // server_name
    extension(0x000a, Buffer.concat([u16(2), u16(GROUP_SECP384R1)])), // supported_groups
    extension(0x000b, Buffer.from([1, 0])), // ec_point_formats: uncompressed
    // signature_algorithms: rsa_pss_rsae_sha256/384, rsa_pkcs1_sha256/384
    extension(0x000d, Buffer.concat([u16(8), u16(0x0804), u16(0x0805), u16(0x0401), u16(0x0501)])),
    extension(0xff01, Buffer.from([0])), // renegotiation_info, empty (RFC 5746)
  ]);
  const body = Buffer.concat([
    u16(0x0303), random, Buffer.from([0]), // no session ID
    u16(2), u16(CIPHER_ECDHE_RSA_AES256_GCM_SHA384), Buffer.from([1, 0]), // one suite, null compression
    u16(extensions.length), extensions,
  ]);
  return handshake(1, body);
}

interface Keys {
  readonly master: Buffer;
  readonly clientKey: Buffer;
  readonly serverKey: Buffer;
  readonly clientIv: Buffer;
  readonly serverIv: Buffer;
}

function keysFor(premaster: Buffer, clientRandom: Buffer, serverRandom: Buffer): Keys {
  const master = prf384(premaster, 'master secret', Buffer.concat([clientRandom, serverRandom]), 48);
  const block = prf384(master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 72);
  return { master, clientKey: block.subarray(0, 32), serverKey: block.subarray(32, 64), clientIv: block.subarray(64, 68), serverIv: block.subarray(68, 72) };
}

/** RFC 5288 §3: the first record after ChangeCipherSpec, sequence number 0. */
function sealFinished(keys: Keys, plaintext: Buffer): Buffer {
  const explicit = Buffer.alloc(8);
  const aad = Buffer.concat([Buffer.alloc(8), Buffer.from([REC_HANDSHAKE]), u16(0x0303), u16(plaintext.length)]);
  const c = createCipheriv('aes-256-gcm', keys.clientKey, Buffer.concat([keys.clientIv, explicit]));
  c.setAAD(aad);
  const body = Buffer.concat([explicit, c.update(plaintext), c.final(), c.getAuthTag()]);
  return record(REC_HANDSHAKE, 0x0303, body);
}

function openFinished(keys: Keys, fragment: Buffer): Buffer {
  if (fragment.length < 8 + 16) throw new LightHandshakeError('short-record', 'encrypted Finished record too short');
  const explicit = fragment.subarray(0, 8);
  const sealed = fragment.subarray(8, fragment.length - 16);
  const d = createDecipheriv('aes-256-gcm', keys.serverKey, Buffer.concat([keys.serverIv, explicit]));
  d.setAAD(Buffer.concat([Buffer.alloc(8), Buffer.from([REC_HANDSHAKE]), u16(0x0303), u16(sealed.length)]));
  d.setAuthTag(fragment.subarray(fragment.length - 16));
  return Buffer.concat([d.update(sealed), d.final()]);
}

export interface LightHandshakeOptions {
  readonly timeoutMs?: number;
  /**
   * false: the server's Finished record is awaited but not decrypted and checked (one AES-GCM key
   * set-up and a PRF less). For rate benches that count the server's own accepted handshakes instead:
   * the server sends its Finished only after it verified the client's.
   */
  readonly verifyServerFinished?: boolean;
}

/**
 * One full handshake to host:port; resolves once the server's Finished verified, then closes the
 * connection (FIN, no close_notify). Rejects with a LightHandshakeError (an alert, a cipher or group
 * other than the one offered, a Finished that does not verify, a closed connection, `timeoutMs`).
 */
export function lightHandshake(host: string, port: number, servername: string, opts: LightHandshakeOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const verifyServer = opts.verifyServerFinished ?? true;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, noDelay: true });
    const clientRandom = randomFillSync(Buffer.alloc(32));
    // RFC 5246 §7.4.9: the hash of every handshake message so far, kept running.
    const transcript = createHash('sha384');
    let inbuf: Buffer = Buffer.alloc(0);
    let hsbuf: Buffer = Buffer.alloc(0);
    let serverRandom: Buffer | null = null;
    let premaster: Buffer | null = null;
    let keys: Keys | null = null;
    let serverCcs = false;
    let settled = false;
    const timer = setTimeout(() => failUnlessSettled('timeout', `no server Finished within ${timeoutMs} ms`), timeoutMs);
    function finish(err: Error | null): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      socket.on('error', () => {});
      if (err === null) { socket.end(); resolve(); } else { socket.destroy(); reject(err); }
    }
    const fail = (err: Error): void => finish(err);
    const failUnlessSettled = (code: string, message: string): void => { if (!settled) fail(new LightHandshakeError(code, message)); };

    function sendClientFlight(): void {
      if (serverRandom === null || premaster === null) throw new LightHandshakeError('unexpected-message', 'ServerHelloDone before ServerHello and ServerKeyExchange');
      const cke = CLIENT_KEY_EXCHANGE;
      transcript.update(cke);
      keys = keysFor(premaster, clientRandom, serverRandom);
      const verify = prf384(keys.master, 'client finished', transcript.copy().digest(), 12);
      const fin = handshake(HS_FINISHED, verify);
      transcript.update(fin);
      socket.write(Buffer.concat([CKE_AND_CCS_RECORDS, sealFinished(keys, fin)]));
    }

    function onHandshakeMessages(): void {
      while (hsbuf.length >= 4) {
        const len = hsbuf.readUIntBE(1, 3);
        if (hsbuf.length < 4 + len) return;
        const msg = hsbuf.subarray(0, 4 + len);
        hsbuf = hsbuf.subarray(4 + len);
        const type = msg[0]!;
        const body = msg.subarray(4);
        transcript.update(msg);
        if (type === HS_SERVER_HELLO) {
          serverRandom = Buffer.from(body.subarray(2, 34));
          const sidLen = body[34]!;
          const suite = body.readUInt16BE(35 + sidLen);
          if (suite !== CIPHER_ECDHE_RSA_AES256_GCM_SHA384) throw new LightHandshakeError('cipher', `server chose suite 0x${suite.toString(16)}`);
          if (hasExtension(body.subarray(38 + sidLen), 0x0017)) throw new LightHandshakeError('ems', 'server sent extended_master_secret, which was not offered');
        } else if (type === HS_SERVER_KEY_EXCHANGE) {
          if (body[0] !== 3 || body.readUInt16BE(1) !== GROUP_SECP384R1) throw new LightHandshakeError('group', 'ServerKeyExchange is not named_curve secp384r1');
          const pointLen = body[3]!;
          if (pointLen !== 97 || body[4] !== 4) throw new LightHandshakeError('point', 'server point not an uncompressed P-384 point');
          // d_c = 1: the shared point is the server's own public point; the premaster is its x.
          premaster = Buffer.from(body.subarray(5, 5 + 48));
        } else if (type === HS_CERTIFICATE_REQUEST) {
          throw new LightHandshakeError('client-certificate', 'server requested a client certificate');
        } else if (type === HS_SERVER_HELLO_DONE) {
          sendClientFlight();
        } else if (type !== HS_CERTIFICATE) {
          throw new LightHandshakeError('unexpected-message', `handshake message ${type} before ServerHelloDone`);
        }
      }
    }

    function onRecord(type: number, fragment: Buffer): void {
      if (type === REC_ALERT) throw new LightHandshakeError('alert', `server alert ${fragment[0]}/${fragment[1]}`);
      if (type === REC_CCS) { serverCcs = true; return; }
      if (type !== REC_HANDSHAKE) throw new LightHandshakeError('unexpected-record', `record type ${type}`);
      if (!serverCcs) {
        hsbuf = hsbuf.length === 0 ? fragment : Buffer.concat([hsbuf, fragment]);
        onHandshakeMessages();
        return;
      }
      if (keys === null) throw new LightHandshakeError('unexpected-message', 'ChangeCipherSpec before the client flight');
      if (!verifyServer) return finish(null);
      const fin = openFinished(keys, fragment);
      const expected = prf384(keys.master, 'server finished', transcript.copy().digest(), 12);
      if (fin.length !== 16 || fin[0] !== HS_FINISHED || !timingSafeEqual(fin.subarray(4), expected)) {
        throw new LightHandshakeError('finished', 'server Finished does not verify');
      }
      finish(null);
    }

    socket.on('connect', () => socket.write(record(REC_HANDSHAKE, 0x0301, (() => { const h = clientHello(clientRandom, servername); transcript.update(h); return h; })())));
    socket.on('data', (chunk: Buffer) => {
      inbuf = inbuf.length === 0 ? chunk : Buffer.concat([inbuf, chunk]);
      try {
        while (!settled && inbuf.length >= 5) {
          const len = inbuf.readUInt16BE(3);
          if (inbuf.length < 5 + len) break;
          const type = inbuf[0]!;
          const fragment = inbuf.subarray(5, 5 + len);
          inbuf = inbuf.subarray(5 + len);
          onRecord(type, fragment);
        }
      } catch (err) {
        fail(err instanceof Error ? err : new Error(String(err)));
      }
    });
    socket.on('error', (err) => failUnlessSettled('socket', err.message));
    socket.on('close', () => failUnlessSettled('closed', 'connection closed before the server Finished'));
  });
}

function hasExtension(exts: Buffer, want: number): boolean {
  if (exts.length < 2) return false;
  let i = 2;
  const end = Math.min(exts.length, 2 + exts.readUInt16BE(0));
  while (i + 4 <= end) {
    const type = exts.readUInt16BE(i);
    const len = exts.readUInt16BE(i + 2);
    if (type === want) return true;
    i += 4 + len;
  }
  return false;
}
