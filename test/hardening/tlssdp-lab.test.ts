/**
 * Issue 11, operability: the lab's edge is the edge `start` runs. `sips-edge lab --ports ephemeral`
 * (kept running, admin endpoints up) with a copy of the lab config that sets tls.keyLogFile: after
 * the lab's calls, /metrics has samples (not only HELP lines) for the TLS handshake, connection and
 * certificate expiry metrics, and the key log file has NSS key log lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

const BIN = join(process.cwd(), 'dist/cli/main.js');

let dir: string;
let keyLog: string;
let proc: ChildProcess;
let exited: Promise<number | null>;
let stdout = '';
let metrics = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sips-edge-tlssdp-lab-'));
  mkdirSync(join(dir, 'conf'));
  keyLog = join(dir, 'keys.log');
  const yaml = readFileSync(join(process.cwd(), 'config/sips-edge.yaml'), 'utf8');
  assert.match(yaml, /^ {2}revocation: soft$/m);
  // The copy's ../.lab/ paths point at <dir>/.lab, which the lab maps to --out.
  writeFileSync(join(dir, 'conf/edge.yaml'), yaml.replace(/^ {2}revocation: soft$/m, `  revocation: soft\n  keyLogFile: ${JSON.stringify(keyLog)}`));
  proc = spawn(process.execPath, [BIN, 'lab', '--ports', 'ephemeral', '--out', join(dir, 'pki'), '--config', join(dir, 'conf/edge.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  exited = new Promise((r) => proc.once('exit', (code) => r(code)));
  // Bounded: a hang fails the test instead of the CI job.
  const guard = setTimeout(() => proc.kill('SIGKILL'), 40_000);
  void exited.then(() => clearTimeout(guard));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      stdout += line + '\n';
      const m = /metrics at (http:\/\/[^\s;]+\/metrics)/.exec(line);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`the lab exited (${code}) before it kept running:\n${stdout}`)));
  });
  metrics = await (await fetch(url)).text();
});

after(async () => {
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
  await exited;
  rmSync(dir, { recursive: true, force: true });
});

/** Sample lines (not HELP/TYPE) of a metric family. */
function samples(name: string): string[] {
  return metrics.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

describe('the lab runs the edge of `start` (issue 11, operability)', () => {
  it('all lab calls went as expected', () => {
    assert.match(stdout, /all \d+ calls as expected/, stdout);
  });

  it('/metrics has TLS handshake samples, server and client side', () => {
    const s = samples('sips_edge_tls_handshakes_total');
    assert.ok(s.some((l) => l.includes('role="server"') && l.includes('result="ok"')), metrics);
    assert.ok(s.some((l) => l.includes('role="client"') && l.includes('result="ok"')), metrics);
  });

  it('/metrics has connection samples', () => {
    assert.ok(samples('sips_edge_connections_active').some((l) => l.includes('transport="tls"')), metrics);
  });

  it('/metrics has a certificate expiry sample for the edge certificate', () => {
    const s = samples('sips_edge_certificate_expiry_seconds');
    assert.ok(s.some((l) => l.includes('name="edge.lab.sips-edge.test"') && Number(l.split(' ').at(-1)) > 0), metrics);
  });

  it('/metrics has the proxy samples too (one observer, not two)', () => {
    assert.ok(samples('sips_edge_requests_total').length > 0, metrics);
  });

  it('the carrier rows ran through the lab\'s rtpengine: both media calls ok, anchored calls and instance up in /metrics', () => {
    assert.match(stdout, /^call #9 outbound TGRP carrier: 200 OK .* media inside->vendor 50\/\d+\/\d+\/\d+, vendor->inside 50\/\d+\/-\/\d+ .*ok$/m, stdout);
    assert.match(stdout, /^call #10 inbound - carrier: 200 OK, reached carrier, BYE 200 .* media inside->vendor 50\/\d+\/\d+\/\d+, vendor->inside 50\/\d+\/-\/\d+ .*ok$/m, stdout);
    const anchored = samples('sips_edge_media_anchored_calls_total').find((l) => l.includes('instance="lab-rtpengine"'));
    assert.ok(anchored !== undefined && Number(anchored.split(' ').at(-1)) >= 2, metrics);
    assert.ok(samples('sips_edge_media_instance_up').some((l) => l.includes('instance="lab-rtpengine"') && l.endsWith(' 1')), metrics);
  });

  it('tls.keyLogFile of the lab config is honoured: key log lines are written, and the warning is printed', () => {
    const lines = readFileSync(keyLog, 'utf8').split('\n').filter((l) => l !== '');
    assert.ok(lines.length > 0, 'key log lines written');
    assert.ok(lines.every((l) => /^[A-Z_]+ [0-9a-f]+ [0-9a-f]+$/.test(l)), lines.slice(0, 3).join('\n'));
    assert.match(stdout, /TLS key logging is ON/);
  });
});
