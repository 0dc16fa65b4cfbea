import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BencodeError, decodeBencode, encodeBencode, type BValue } from '../../../src/media/bencode.js';

// A fixed seed keeps CI deterministic; FC_SEED=<n> (or FC_SEED=random) explores further by hand.
const seedEnv = process.env.FC_SEED;
const seed = seedEnv === 'random' ? Date.now() | 0 : Number(seedEnv ?? 20261202);

const bvalue: fc.Arbitrary<BValue> = fc.letrec<{ v: BValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.maxSafeInteger(),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.array(tie('v'), { maxLength: 5 }),
    fc.dictionary(fc.string({ unit: 'binary', maxLength: 12 }), tie('v'), { maxKeys: 5 }),
  ),
})).v;

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

function kindOf(input: string | Uint8Array, limits?: { maxDepth: number; maxLength: number }): string {
  try {
    decodeBencode(typeof input === 'string' ? b(input) : input, limits);
  } catch (e) {
    assert.ok(e instanceof BencodeError, `not a BencodeError: ${String(e)}`);
    return e.kind;
  }
  return 'accepted';
}

test('encode writes the canonical forms, dictionary keys sorted as bytes', () => {
  assert.equal(encodeBencode({ sdp: 'v=0', command: 'offer', 'call-id': 'a', direction: ['inside', 'outside'], n: -3 }).toString(),
    'd7:call-id1:a7:command5:offer9:directionl6:inside7:outsidee1:ni-3e3:sdp3:v=0e');
  assert.equal(encodeBencode('é').toString('latin1'), '2:\xc3\xa9'); // length in bytes, not characters
  assert.equal(encodeBencode({ b: 1, a: 2, Z: 3 }).toString(), 'd1:Zi3e1:ai2e1:bi1ee');
});

test('decode reads a real rtpengine reply (keys in insertion order, not sorted)', () => {
  const v = decodeBencode(b('d6:result2:ok7:warning4:late3:sdp3:v=0e'));
  assert.deepEqual({ ...(v as object) }, { result: 'ok', warning: 'late', sdp: 'v=0' });
});

test('property: decode(encode(v)) is v and encode is canonical', () => {
  fc.assert(fc.property(bvalue, (v) => {
    const enc = encodeBencode(v);
    const dec = decodeBencode(enc);
    assert.deepEqual(JSON.parse(JSON.stringify(dec)), JSON.parse(JSON.stringify(v)));
    assert.deepEqual(encodeBencode(dec), enc);
  }), { seed, numRuns: 500 });
});

test('property: any truncation or trailing byte of a valid encoding is refused with a BencodeError', () => {
  fc.assert(fc.property(bvalue.filter((v) => typeof v === 'object'), fc.nat(), (v, cut) => {
    const enc = encodeBencode(v);
    const at = cut % enc.length;
    assert.notEqual(kindOf(enc.subarray(0, at)), 'accepted');
    assert.equal(kindOf(Buffer.concat([enc, b('e')])), 'syntax');
  }), { seed, numRuns: 300 });
});

test('property: random bytes never throw anything but a BencodeError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
    kindOf(bytes); // asserts the error type
  }), { seed, numRuns: 2000 });
});

test('malformed integers and strings are refused', () => {
  assert.equal(kindOf('i-0e'), 'integer');
  assert.equal(kindOf('i03e'), 'integer');
  assert.equal(kindOf('ie'), 'syntax');
  assert.equal(kindOf('i1.5e'), 'syntax');
  assert.equal(kindOf('i99999999999999999999e'), 'integer');
  assert.equal(kindOf('03:abc'), 'integer');
  assert.equal(kindOf('5:abc'), 'too-long');
  assert.equal(kindOf('3abc'), 'syntax');
  assert.equal(kindOf(Buffer.from([0x32, 0x3a, 0xc3, 0x28])), 'utf8');
  assert.equal(kindOf('x'), 'syntax');
  assert.equal(kindOf(''), 'syntax');
  assert.equal(kindOf('l1:a'), 'syntax');
  assert.equal(kindOf('di1ei2ee'), 'syntax'); // a key must be a byte string
  assert.equal(kindOf('d1:ai1e1:ai2ee'), 'duplicate-key');
  assert.equal(kindOf('1:a1:b'), 'syntax'); // trailing value
});

test('__proto__ as a key is data, not a prototype', () => {
  const v = decodeBencode(b('d9:__proto__d1:xi1eee')) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(v), null);
  assert.deepEqual({ ...(v['__proto__'] as object) }, { x: 1 });
});

test('depth and length bounds hold on decode and encode', () => {
  const limits = { maxDepth: 4, maxLength: 64 };
  assert.equal(kindOf('llllee' + 'ee', limits), 'accepted');
  assert.equal(kindOf('lllllee' + 'eee', limits), 'too-deep');
  assert.equal(kindOf('l'.repeat(100_000) + 'e'.repeat(100_000)), 'too-long'); // default length bound first
  assert.equal(kindOf('l'.repeat(10_000) + 'e'.repeat(10_000)), 'too-deep'); // no stack overflow
  assert.equal(kindOf(`70:${'a'.repeat(70)}`, limits), 'too-long');
  assert.throws(() => encodeBencode([[[[[1]]]]], limits), (e) => e instanceof BencodeError && e.kind === 'too-deep');
  assert.throws(() => encodeBencode('a'.repeat(64), limits), (e) => e instanceof BencodeError && e.kind === 'too-long');
  assert.throws(() => encodeBencode(1.5), (e) => e instanceof BencodeError && e.kind === 'unencodable');
});
