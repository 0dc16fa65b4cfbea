import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { encodeRtp } from '../../../src/lab/media/rtp-packet.js';
import {
  aesCmKeystream,
  deriveSessionKeys,
  inlineKeyOf,
  parseCryptoKey,
  SrtpReceiver,
  SrtpSender,
  type SrtpMasterKey,
} from '../../../src/lab/media/srtp.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 3711 Appendix B.3 (and libsrtp's reference packet below) use this master key and salt.
const B3: SrtpMasterKey = {
  suite: 'AES_CM_128_HMAC_SHA1_80',
  key: hex('E1F97A0D3E018BE0D64FA32C06DE4139'),
  salt: hex('0EC675AD498AFEEBB6960B3AABE6'),
};

function master(suite: SrtpMasterKey['suite'] = 'AES_CM_128_HMAC_SHA1_80'): SrtpMasterKey {
  return { suite, key: randomBytes(16), salt: randomBytes(14) };
}

function rtp(seq: number, payload = Buffer.alloc(160, seq & 0xff), ssrc = 0x1234abcd): Buffer {
  return encodeRtp({ marker: false, payloadType: 0, sequence: seq & 0xffff, timestamp: seq * 160, ssrc }, payload);
}

describe('RFC 3711 Appendix B test vectors', () => {
  it('B.2: AES-CM keystream, first three blocks and the blocks at counter 0xfeff..0xff01', () => {
    const key = hex('2B7E151628AED2A6ABF7158809CF4F3C');
    const iv = hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000');
    const ks = aesCmKeystream(key, iv, 16 * 0xff02);
    assert.equal(ks.subarray(0, 48).toString('hex').toUpperCase(),
      'E03EAD0935C95E80E166B16DD92B4EB4' + 'D23513162B02D0F72A43A2FE4A5F97AB' + '41E95B3BB0A2E8DD477901E4FCA894C0');
    assert.equal(ks.subarray(16 * 0xfeff).toString('hex').toUpperCase(),
      'EC8CDF7398607CB0F2D21675EA9EA1E4' + '362B7C3C6773516318A077D7FC5073AE' + '6A2CC3787889374FBEB4C81B17BA6C44');
  });

  it('B.3: session encryption key, salt and authentication key (labels 0, 2, 1; kdr 0)', () => {
    const k = deriveSessionKeys(B3);
    assert.equal(k.cipherKey.toString('hex').toUpperCase(), 'C61E7A93744F39EE10734AFE3FF7A087');
    assert.equal(k.salt.toString('hex').toUpperCase(), '30CBBC08863D8C85D49DB34A9AE1');
    assert.equal(k.authKey.toString('hex').toUpperCase(), 'CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4');
  });
});

describe('SRTP protect/unprotect', () => {
  // The reference packet libsrtp and other stacks check against: SSRC 0xcafebabe, SEQ 0x1234, ROC 0.
  const plain = hex('800f1234decafbadcafebabe' + 'ab'.repeat(16));
  it('AES_CM_128_HMAC_SHA1_80: the reference packet encrypts and tags as every SRTP stack does', () => {
    const out = new SrtpSender(B3).protect(plain);
    assert.equal(out?.toString('hex'), '800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb');
    const back = new SrtpReceiver(B3).unprotect(out!);
    assert.ok(back.ok);
    assert.deepEqual(back.rtp, plain);
  });

  it('AES_CM_128_HMAC_SHA1_32: same ciphertext, 4-byte tag', () => {
    const m: SrtpMasterKey = { ...B3, suite: 'AES_CM_128_HMAC_SHA1_32' };
    const out = new SrtpSender(m).protect(plain);
    assert.equal(out?.toString('hex'), '800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc');
  });

  for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] as const) {
    it(`${suite}: round trip of 200 packets, payload restored`, () => {
      const m = master(suite);
      const tx = new SrtpSender(m);
      const rx = new SrtpReceiver(m);
      for (let s = 1000; s < 1200; s++) {
        const p = rtp(s);
        const enc = tx.protect(p)!;
        assert.notDeepEqual(enc.subarray(12, 172), p.subarray(12));
        const r = rx.unprotect(enc);
        assert.ok(r.ok, `seq ${s}`);
        assert.deepEqual(r.rtp, p);
      }
    });
  }

  it('a flipped bit anywhere (header, payload, tag) fails authentication and does not advance state', () => {
    const m = master();
    const tx = new SrtpSender(m);
    const rx = new SrtpReceiver(m);
    const enc = tx.protect(rtp(7))!;
    for (const at of [1, 3, 11, 12, 100, enc.length - 1]) {
      const bad = Buffer.from(enc);
      bad[at] = bad[at]! ^ 0x01;
      const r = rx.unprotect(bad);
      assert.equal(r.ok, false, `byte ${at}`);
      if (!r.ok) assert.equal(r.reason, 'auth-failed');
    }
    assert.ok(rx.unprotect(enc).ok, 'the genuine packet still passes');
  });

  it('a wrong key fails authentication', () => {
    const enc = new SrtpSender(master()).protect(rtp(1))!;
    const r = new SrtpReceiver(master()).unprotect(enc);
    assert.deepEqual(r, { ok: false, reason: 'auth-failed' });
  });

  it('replay: the same packet twice is refused; late packets inside the 64-window pass once; older ones are refused', () => {
    const m = master();
    const tx = new SrtpSender(m);
    const rx = new SrtpReceiver(m);
    const packets = Array.from({ length: 100 }, (_, i) => tx.protect(rtp(i))!);
    assert.ok(rx.unprotect(packets[0]!).ok);
    assert.deepEqual(rx.unprotect(packets[0]!), { ok: false, reason: 'replay' });
    assert.ok(rx.unprotect(packets[99]!).ok); // jump ahead
    assert.ok(rx.unprotect(packets[40]!).ok); // 59 behind: inside the window, first time
    assert.deepEqual(rx.unprotect(packets[40]!), { ok: false, reason: 'replay' });
    assert.deepEqual(rx.unprotect(packets[30]!), { ok: false, reason: 'replay' }); // 69 behind: left the window
  });

  it('ROC rollover: seq 65530..65535 then 0..10 keeps authenticating; the receiver ROC becomes 1', () => {
    const m = master();
    const tx = new SrtpSender(m);
    const rx = new SrtpReceiver(m);
    for (let i = 65530; i < 65536 + 11; i++) {
      const p = rtp(i);
      const r = rx.unprotect(tx.protect(p)!);
      assert.ok(r.ok, `seq ${i & 0xffff}`);
      assert.deepEqual(r.rtp, p);
      assert.equal(r.index, BigInt(i));
    }
    assert.equal(tx.rolloverCounter, 1);
    assert.equal(rx.rolloverCounter, 1);
  });

  it('ROC rollover with reordering: a packet from before the wrap arriving after it still authenticates', () => {
    const m = master();
    const tx = new SrtpSender(m);
    const rx = new SrtpReceiver(m);
    const p65535 = tx.protect(rtp(65534))!;
    const late = tx.protect(rtp(65535))!;
    const after = [0, 1, 2].map((s) => tx.protect(rtp(s))!);
    assert.ok(rx.unprotect(p65535).ok);
    for (const a of after) assert.ok(rx.unprotect(a).ok);
    const r = rx.unprotect(late);
    assert.ok(r.ok);
    assert.equal(r.index, 65535n);
  });

  it('a packet sent with ROC 1 fails when the receiver must guess ROC 0 (the ROC is in the tag, §4.2)', () => {
    const m = master();
    const tx = new SrtpSender(m);
    for (let i = 65000; i < 65536 + 5; i += 500) tx.protect(rtp(i));
    const enc = tx.protect(rtp(65536 + 100))!;
    assert.equal(tx.rolloverCounter, 1);
    assert.equal(new SrtpReceiver(m).unprotect(enc).ok, false);
  });

  it('never throws on garbage: short, empty, wrong version, truncated CSRC', () => {
    const rx = new SrtpReceiver(master());
    for (const b of [Buffer.alloc(0), Buffer.alloc(5), Buffer.alloc(40), hex('8f00000100000000000000000000'), randomBytes(30)]) {
      const r = rx.unprotect(b);
      assert.equal(r.ok, false);
    }
    assert.equal(new SrtpSender(master()).protect(Buffer.alloc(4)), null);
  });
});

describe('parseCryptoKey (RFC 4568 §9.1)', () => {
  const m = master();
  const inline = inlineKeyOf(m);
  it('reads tag, suite, key and salt; lifetime allowed', () => {
    for (const v of [`1 AES_CM_128_HMAC_SHA1_80 inline:${inline}`, `1 AES_CM_128_HMAC_SHA1_80 inline:${inline}|2^31`]) {
      const p = parseCryptoKey(v);
      assert.equal(p?.tag, '1');
      assert.deepEqual(p?.master.key, m.key);
      assert.deepEqual(p?.master.salt, m.salt);
    }
    assert.equal(parseCryptoKey(`7 AES_CM_128_HMAC_SHA1_32 inline:${inline}`)?.master.suite, 'AES_CM_128_HMAC_SHA1_32');
  });
  it('refuses what this SRTP cannot do: other suites, MKI, short keys, mandatory session params', () => {
    for (const v of [
      `1 AES_256_CM_HMAC_SHA1_80 inline:${randomBytes(46).toString('base64')}`,
      `1 AES_CM_128_HMAC_SHA1_80 inline:${inline}|2^31|1:4`,
      `1 AES_CM_128_HMAC_SHA1_80 inline:${randomBytes(20).toString('base64')}`,
      `1 AES_CM_128_HMAC_SHA1_80 inline:${inline} KDR=1`,
      `x AES_CM_128_HMAC_SHA1_80 inline:${inline}`,
      `1 AES_CM_128_HMAC_SHA1_80 uri:${inline}`,
      '',
    ]) assert.equal(parseCryptoKey(v), null, v.slice(0, 30));
  });
});
