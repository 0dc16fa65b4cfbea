/**
 * The lab without rtpengine (withoutMedia) and the report's media column.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { loadConfigFile, loadConfigText } from '../../../src/config/load-config.js';
import { mediaRows } from '../../../src/lab/media/media-report.js';
import type { MediaStats } from '../../../src/lab/media/media-endpoint.js';
import { formatReport, mediaColumn, type ReportRow } from '../../../src/lab/report.js';
import { CARRIER_PEER, withoutMedia } from '../../../src/lab/run-lab.js';

const LAB_CONFIG = join(process.cwd(), 'config/sips-edge.yaml');
const zero: MediaStats = { sent: 0, received: 0, authenticated: 0, authFailed: 0, replayed: 0, malformed: 0, payloadOk: 0, outOfPattern: 0, rtcp: 0, source: null };

describe('the lab config and rtpengine', () => {
  it('has the carrier peer anchored, RTP only, on its own /32, with an inbound prefix rule and the lab ng port', () => {
    const c = loadConfigFile(LAB_CONFIG, {});
    const carrier = c.peers.find((p) => p.name === CARRIER_PEER);
    assert.ok(carrier);
    assert.equal(carrier.media, 'anchor');
    assert.equal(carrier.srtp, 'none');
    assert.deepEqual(carrier.sources, ['127.0.0.5/32']);
    assert.ok(c.routing.inbound.some((r) => r.peer === CARRIER_PEER && r.prefix === '+4940666'));
    assert.deepEqual(c.media?.rtpengine.instances.map((i) => `${i.address}:${i.port}`), ['127.0.0.1:22222']);
  });

  it('withoutMedia drops the anchored peers, their inbound rules and media; what is left validates', () => {
    const c = loadConfigFile(LAB_CONFIG, {});
    withoutMedia(c);
    assert.equal(c.media, undefined);
    assert.ok(c.peers.every((p) => p.media !== 'anchor'));
    assert.ok(c.peers.some((p) => p.name === 'pbx'));
    assert.ok(c.routing.inbound.every((r) => r.peer !== CARRIER_PEER));
    // The same config with only `media` removed is refused: that is why the peer has to go too.
    const raw = loadConfigFile(LAB_CONFIG, {});
    raw.media = undefined;
    assert.throws(() => loadConfigText(stringify(raw), LAB_CONFIG, {}), /media\.rtpengine is not configured/);
    assert.doesNotThrow(() => loadConfigText(stringify(c), LAB_CONFIG, {}));
  });
});

describe('the report media column', () => {
  const base: ReportRow = {
    id: '9', direction: 'outbound', mode: 'TGRP', srtpOffered: false, lbHost: 'lb01.voice.euc1.pure.cloud', cipher: 'ECDHE-RSA-AES256-GCM-SHA384',
    nameValidation: 'ok', srtp: 'carrier RTP', status: 200, outcome: '200 OK from lb01, BYE 200', expectedStatus: 200, expected: '200', pass: true, detail: '',
  };

  it('is - without media, and sent/received/authenticated/payload per direction with it', () => {
    assert.equal(mediaColumn(base), '-');
    const media = mediaRows({ ...zero, sent: 50, received: 48, payloadOk: 48 }, { ...zero, sent: 50, received: 47, authenticated: 47, payloadOk: 47 });
    const row = { ...base, media };
    assert.equal(mediaColumn(row), 'inside->vendor 50/47/47/47, vendor->inside 50/48/-/48');
    assert.match(formatReport([row]), /^9 .*\| inside->vendor 50\/47\/47\/47, vendor->inside 50\/48\/-\/48 \| .*PASS$/m);
  });

  it('shows authentication failures in the cell', () => {
    const media = mediaRows({ ...zero, sent: 50, payloadOk: 50 }, { ...zero, sent: 50, received: 50, authenticated: 40, authFailed: 10, payloadOk: 40 });
    assert.equal(media[0].ok, false);
    assert.match(mediaColumn({ ...base, media }), /^inside->vendor 50\/50\/40\/40 authFailed=10, /);
  });
});
