import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MediaStats } from '../../../src/lab/media/media-endpoint.js';
import { mediaCell, mediaRows } from '../../../src/lab/media/media-report.js';

const zero: MediaStats = { sent: 0, received: 0, authenticated: 0, authFailed: 0, replayed: 0, malformed: 0, payloadOk: 0, outOfPattern: 0, rtcp: 0, source: null };

describe('mediaRows', () => {
  it('pairs the sender\'s sent with the receiver\'s counts; authenticated only toward the vendor', () => {
    const inside = { ...zero, sent: 50, received: 50, payloadOk: 50 };
    const vendor = { ...zero, sent: 50, received: 50, authenticated: 50, payloadOk: 50, rtcp: 3 };
    const [toVendor, toInside] = mediaRows(inside, vendor);
    assert.deepEqual(toVendor, { flow: 'inside->vendor', sent: 50, received: 50, authenticated: 50, authFailed: 0, payloadOk: 50, ok: true });
    assert.deepEqual(toInside, { flow: 'vendor->inside', sent: 50, received: 50, authenticated: null, authFailed: 0, payloadOk: 50, ok: true });
    assert.equal(mediaCell(toVendor), '50/50/50/50');
    assert.equal(mediaCell(toInside), '50/50/-/50');
  });

  it('not ok: nothing sent, auth failures, too few payloads, payloads that did not authenticate', () => {
    const ok = { ...zero, sent: 50, received: 50, authenticated: 50, payloadOk: 50 };
    assert.equal(mediaRows(zero, ok)[0].ok, false);
    assert.equal(mediaRows(ok, { ...ok, authFailed: 1 })[0].ok, false);
    assert.equal(mediaCell(mediaRows(ok, { ...ok, authFailed: 2 })[0]), '50/50/50/50 authFailed=2');
    assert.equal(mediaRows(ok, { ...ok, payloadOk: 44 })[0].ok, false);
    assert.equal(mediaRows(ok, { ...ok, payloadOk: 45 })[0].ok, true);
    assert.equal(mediaRows(ok, { ...ok, authenticated: 10 })[0].ok, false);
  });
});
