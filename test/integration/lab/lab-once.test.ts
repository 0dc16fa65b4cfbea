/**
 * `sips-edge lab --once --ports ephemeral` as a process: the simulated region, the edge and the PBX
 * simulator on loopback, every call as expected, exit 0.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { POLICY_CIPHERS } from '../../../src/tls/policy.js';
import type { ReportRow } from '../../../src/lab/report.js';
import type { MediaRow } from '../../../src/lab/media/media-report.js';

const BIN = join(process.cwd(), 'dist/cli/main.js');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runLab(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, 'lab', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    // Bounded: the lab finishes in a few seconds; a hang is a failure, not a stuck CI job.
    const guard = setTimeout(() => p.kill('SIGKILL'), 45_000);
    p.once('error', reject);
    // 'close' (stdio drained), not 'exit': the last lines may still be in the pipe at 'exit'.
    p.once('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('sips-edge lab --once', () => {
  let dir: string;
  let run: Run;
  let rows: readonly ReportRow[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sips-edge-lab-'));
    run = await runLab(['--once', '--ports', 'ephemeral', '--out', join(dir, 'pki'), '--report-json', join(dir, 'report.json')]);
    rows = (JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { rows: ReportRow[] }).rows;
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  const row = (pred: (r: ReportRow) => boolean, what: string): ReportRow => {
    const r = rows.find(pred);
    assert.ok(r, `no report row for ${what}:\n${run.stdout}`);
    return r;
  };

  it('exits 0 with every call as expected, and prints the bound ephemeral addresses', () => {
    assert.equal(run.code, 0, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
    assert.match(run.stdout, /all \d+ calls as expected/);
    assert.match(run.stdout, /lab PKI: generated \d+ files/);
    const ready = /ready: edge edge\.lab\.sips-edge\.test tls 127\.0\.0\.1:(\d+), inside udp 127\.0\.0\.1:(\d+) tcp 127\.0\.0\.1:\d+, admin 127\.0\.0\.1:(\d+)/.exec(run.stdout);
    assert.ok(ready, run.stdout);
    for (const p of ready.slice(1)) assert.notEqual(Number(p), 0);
    assert.notEqual(Number(ready[1]), 5061, 'ephemeral mode must not bind the fixed lab port');
    assert.ok(rows.every((r) => r.pass));
    assert.match(run.stdout, /^#\s+\| direction \| mode \| lb host .*\| media sent\/recv\/auth\/ok /m);
  });

  for (const mode of ['TGRP', 'DNIS', 'FQDN'] as const) {
    it(`${mode} outbound with SRTP: 200 from an lb host, SRTP answer, policy cipher, name validated against lbNN`, () => {
      const r = row((x) => x.direction === 'outbound' && x.mode === mode && x.srtpOffered && x.expectedStatus === 200, mode);
      assert.equal(r.status, 200);
      assert.match(r.outcome, /BYE 200/);
      assert.match(r.lbHost ?? '', /^lb0[1-4]\.voice\.euc1\.pure\.cloud$/);
      assert.ok((POLICY_CIPHERS as readonly string[]).includes(r.cipher ?? ''), `cipher ${String(r.cipher)}`);
      assert.equal(r.nameValidation, `ok ${r.lbHost!}`);
      assert.match(r.srtp, /^ok \d+ AES_/);
    });
  }

  it('the TGRP R-URI carries tgrp and trunk-context in the user part and the lb name as host', () => {
    const r = row((x) => x.mode === 'TGRP' && x.status === 200, 'TGRP 200');
    assert.match(r.detail, new RegExp(`R-URI sip:\\+\\d+;tgrp=lab-tgrp;trunk-context=byoc\\.euc1\\.pure\\.cloud@${r.lbHost!.replace(/\./g, '\\.')}:\\d+;transport=tls`));
  });

  it('the call without SRTP gets 488 with a Warning', () => {
    const r = row((x) => x.direction === 'outbound' && !x.srtpOffered, 'outbound no SRTP');
    assert.equal(r.status, 488);
    assert.match(r.srtp, /refused/);
    assert.match(r.detail, /Warning .*SIPS_ERR_/);
  });

  it('an unknown trunk group gets 404 from the region', () => {
    const r = row((x) => x.expectedStatus === 404, '404');
    assert.equal(r.status, 404);
    assert.match(r.outcome, /from lb0\d/);
  });

  it('an inbound call from the region reaches the PBX simulator; the lb validated the edge certificate by name', () => {
    const r = row((x) => x.direction === 'inbound' && x.srtpOffered, 'inbound SRTP');
    assert.equal(r.status, 200);
    assert.match(r.outcome, /reached PBX, BYE 200/);
    assert.match(r.nameValidation, /^ok edge\.lab\.sips-edge\.test/);
    assert.ok((POLICY_CIPHERS as readonly string[]).includes(r.cipher ?? ''));
    assert.match(r.srtp, /^ok \d+ AES_/);
  });

  it('an inbound offer without SRTP is refused before the PBX', () => {
    const r = row((x) => x.direction === 'inbound' && !x.srtpOffered, 'inbound no SRTP');
    assert.equal(r.status, 488);
    assert.match(r.outcome, /PBX not reached/);
  });

  // Issue 14: carrier RTP <-> edge (the lab's rtpengine) <-> vendor SRTP, 50 packets each way.
  const assertMedia = (r: ReportRow): void => {
    assert.ok(r.pass, `${r.id}: ${r.outcome} ${r.detail}`);
    assert.equal(r.status, 200);
    assert.match(r.outcome, /BYE 200/);
    const m = r.media ?? [];
    assert.equal(m.length, 2, JSON.stringify(r));
    const toVendor = m.find((x) => x.flow === 'inside->vendor') as MediaRow;
    const toInside = m.find((x) => x.flow === 'vendor->inside') as MediaRow;
    for (const d of [toVendor, toInside]) {
      assert.equal(d.sent, 50);
      assert.ok(d.payloadOk >= 45, `${d.flow}: ${d.payloadOk} of ${d.sent} arrived intact`);
      assert.equal(d.authFailed, 0);
      assert.ok(d.ok);
    }
    // The vendor decrypted every packet with the key the edge's rtpengine wrote toward it.
    assert.equal(toVendor.authenticated, toVendor.payloadOk);
    assert.equal(toInside.authenticated, null, 'the carrier speaks plain RTP');
    assert.match(run.stdout, new RegExp(`^${r.id} .*\\| inside->vendor 50/\\d+/\\d+/\\d+, vendor->inside 50/\\d+/-/\\d+ .*PASS$`, 'm'));
  };

  it('the lab starts its own rtpengine and the carrier simulator on 127.0.0.5', () => {
    assert.match(run.stdout, /rtpengine: pid \d+, ng 127\.0\.0\.1:(\d+)/);
    assert.doesNotMatch(run.stdout, /ng 127\.0\.0\.1:22222\b/, 'ephemeral mode must not take the fixed ng port');
    assert.match(run.stdout, /carrier simulator: udp 127\.0\.0\.5:\d+ RTP only/);
  });

  it('outbound carrier RTP -> edge -> vendor SRTP: 200 from an lb host, media both ways, all authenticated at the vendor', () => {
    const r = row((x) => x.direction === 'outbound' && x.media !== undefined, 'carrier outbound');
    assertMedia(r);
    assert.match(r.lbHost ?? '', /^lb0[1-4]\.voice\.euc1\.pure\.cloud$/);
    assert.equal(r.nameValidation, `ok ${r.lbHost!}`);
    assert.match(r.srtp, /^carrier RTP, vendor \d+ AES_CM_128_HMAC_SHA1_(80|32)$/);
  });

  it('inbound vendor SRTP -> edge -> carrier RTP: reaches the carrier by prefix, media both ways', () => {
    const r = row((x) => x.direction === 'inbound' && x.media !== undefined, 'carrier inbound');
    assertMedia(r);
    assert.match(r.outcome, /reached carrier, BYE 200/);
    assert.match(r.detail, /carrier R-URI sip:\+4940666010@127\.0\.0\.5:\d+/);
    assert.match(r.srtp, /^vendor \d+ AES_CM_128_HMAC_SHA1_(80|32), carrier RTP$/);
  });

  it('the calls without real media show - in the media column', () => {
    const plain = rows.filter((r) => r.media === undefined);
    assert.equal(plain.length, 8);
    for (const r of plain) assert.match(run.stdout, new RegExp(`^${r.id} .*\\| - +\\| .*PASS$`, 'm'));
  });
});

describe('sips-edge lab --once without rtpengine', () => {
  let dir: string;
  let run: Run;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sips-edge-lab-'));
    run = await runLab(['--once', '--ports', 'ephemeral', '--out', join(dir, 'pki'), '--report-json', join(dir, 'report.json')], { ...process.env, SIPS_EDGE_LAB_RTPENGINE: join(dir, 'no-such-rtpengine') });
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('says how to get rtpengine and runs the other calls without the carrier peer', () => {
    assert.equal(run.code, 0, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
    assert.match(run.stdout, /apt-get install rtpengine-daemon/);
    assert.match(run.stdout, /scripts\/install-peers\.sh/);
    assert.doesNotMatch(run.stdout, /carrier simulator:/);
    const rows = (JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { rows: ReportRow[] }).rows;
    assert.equal(rows.length, 8);
    assert.ok(rows.every((r) => r.pass && r.media === undefined));
    assert.match(run.stdout, /all 8 calls as expected/);
  });
});
