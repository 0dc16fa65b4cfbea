import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_ERRORS, type ErrorDef, type ErrorSection } from '../../src/errors.js';
import { PARSE_ERRORS, SipParseError } from '../../src/message/parse-error.js';
import { PROXY_ERRORS, proxyReject, warningFor } from '../../src/proxy/error-responses.js';
import { warningValue } from '../../src/message/warning.js';
import { ROUTE_ERRORS, routeReject } from '../../src/routing/route-errors.js';
import { SDP_ERRORS } from '../../src/sdp/verdict.js';
import { MEDIA_ERRORS } from '../../src/media/types.js';
import { TLS_ERRORS, TLS_FAILURE_CODES, TLS_FAILURE_REASONS } from '../../src/tls/reasons.js';
import { TRANSPORT_ERRORS } from '../../src/transport/transport-error.js';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : n.endsWith('.ts') ? [p] : [];
  });
}

test('every SIPS_ERR_* code in src is documented in docs/errors.md, and the doc lists no stale code', () => {
  const inSrc = new Set<string>();
  for (const f of files(join(process.cwd(), 'src'))) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/SIPS_ERR_[A-Z0-9_]*[A-Z0-9]/g)) {
      // `SIPS_ERR_SDP_${...}` builds codes from a table; the prefix itself is not a code.
      if (text[m.index + m[0].length] !== '_') inSrc.add(m[0]);
    }
  }
  const doc = readFileSync(join(process.cwd(), 'docs/errors.md'), 'utf8');
  const inDoc = new Set([...doc.matchAll(/`(SIPS_ERR_[A-Z0-9_]+)`/g)].map((m) => m[1]!));
  const missing = [...inSrc].filter((c) => !inDoc.has(c)).sort();
  const stale = [...inDoc].filter((c) => !inSrc.has(c)).sort();
  assert.deepEqual({ missing, stale }, { missing: [], stale: [] });
});

/** Every layer's section of the error table (issue 12: each code carries its status and meaning in one place). */
const SECTIONS: Readonly<Record<string, ErrorSection>> = {
  parse: PARSE_ERRORS,
  proxy: PROXY_ERRORS,
  route: ROUTE_ERRORS,
  tls: TLS_ERRORS,
  transport: TRANSPORT_ERRORS,
  sdp: SDP_ERRORS,
  media: MEDIA_ERRORS,
  config: CONFIG_ERRORS,
};

/** The doc's rows by code, each as a map from column name to cell. */
function docRows(): Map<string, Record<string, string>> {
  const doc = readFileSync(join(process.cwd(), 'docs/errors.md'), 'utf8');
  const rows = new Map<string, Record<string, string>>();
  let header: string[] = [];
  for (const line of doc.split('\n')) {
    if (!line.startsWith('| ')) continue;
    const cells = line.slice(2, -2).split(' | ').map((c) => c.trim());
    if (cells[0] === 'code') { header = cells; continue; }
    const m = /^`(SIPS_ERR_[A-Z0-9_]+)`$/.exec(cells[0]!);
    if (m === null) continue;
    assert.equal(cells.length, header.length, `${m[1]}: ${cells.length} cells under a ${header.length}-column header`);
    assert.ok(!rows.has(m[1]!), `${m[1]} listed twice`);
    rows.set(m[1]!, Object.fromEntries(header.map((h, i) => [h, cells[i]!])));
  }
  return rows;
}

function statusCell(def: ErrorDef): string {
  if (def.status === null) return '—';
  return def.also === undefined ? String(def.status) : `${def.status} / ${def.also}`;
}

test('docs/errors.md shows each code with the status and meaning of its row in the error table', () => {
  const rows = docRows();
  const fromSrc = new Map<string, { status: string; meaning: string }>();
  for (const [name, section] of Object.entries(SECTIONS)) {
    for (const [code, def] of Object.entries(section)) {
      assert.ok(!fromSrc.has(code), `${code} in two sections (${name})`);
      assert.ok(def.status === null || (def.reason !== undefined && def.reason.length > 0), `${code}: a status needs a reason phrase`);
      fromSrc.set(code, { status: statusCell(def), meaning: def.meaning });
    }
  }
  const fromDoc = new Map([...rows].map(([code, r]) => [code, { status: r['status'] ?? '(no status column)', meaning: r['meaning'] ?? '' }]));
  assert.deepEqual(Object.fromEntries([...fromDoc].sort()), Object.fromEntries([...fromSrc].sort()));
});

test('every SIPS_ERR_* code in src has a row in its layer\'s section of the error table', () => {
  const inTable = new Set(Object.values(SECTIONS).flatMap((s) => Object.keys(s)));
  const loose = new Set<string>();
  for (const f of files(join(process.cwd(), 'src'))) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/SIPS_ERR_[A-Z0-9_]*[A-Z0-9]/g)) if (text[m.index + m[0].length] !== '_' && !inTable.has(m[0])) loose.add(m[0]);
  }
  assert.deepEqual([...loose].sort(), []);
});

test('the TLS reason column is the reason TLS_FAILURE_CODES maps to that code', () => {
  const rows = docRows();
  for (const r of TLS_FAILURE_REASONS) assert.equal(rows.get(TLS_FAILURE_CODES[r])?.['reason'], `\`${r}\``, r);
});

test('a status-line code answers with its row: reply and route rejects take the status and reason from the table', () => {
  assert.deepEqual(routeReject('SIPS_ERR_ROUTE_IP_TARGET'), { kind: 'reject', status: 502, reason: 'Bad Gateway', code: 'SIPS_ERR_ROUTE_IP_TARGET' });
  assert.deepEqual(proxyReject('SIPS_ERR_PROXY_UNKNOWN_NEXT_HOP'), { kind: 'reject', status: 403, reason: 'Forbidden', code: 'SIPS_ERR_PROXY_UNKNOWN_NEXT_HOP' });
  for (const [code, def] of Object.entries(PARSE_ERRORS)) {
    const e = new SipParseError(code as keyof typeof PARSE_ERRORS, 'x');
    assert.deepEqual([e.status, e.reason], [def.status, def.reason], code);
  }
});

test('one Warning builder: the proxy, admission and raw-400 forms are the ones they wrote before', () => {
  // The three builders this replaced (proxy: whole quoted part cut at 200; raw 400: text cut at 160).
  const oldProxy = (agent: string, code: string, text: string) => `399 ${agent} "${`${code}: ${text}`.replace(/["\\\r\n]/g, "'").slice(0, 200)}"`;
  const oldRaw = (agent: string, code: string, text: string) => `399 ${agent} "${code}: ${text.replace(/["\\\r\n]/g, "'").slice(0, 160)}"`;
  for (const text of ['', 'short', 'quote " back \\ cr \r lf \n end', 'x'.repeat(150), 'y'.repeat(170), 'z'.repeat(500)]) {
    assert.equal(warningValue('sips-edge', 'SIPS_ERR_PROXY_TRANSPORT', text), oldProxy('sips-edge', 'SIPS_ERR_PROXY_TRANSPORT', text));
    assert.equal(warningValue('sips-edge', 'SIPS_ERR_PARSE_HEADER_SECTION_TOO_LARGE', text, 160), oldRaw('sips-edge', 'SIPS_ERR_PARSE_HEADER_SECTION_TOO_LARGE', text));
  }
  assert.equal(warningFor({ agent: 'sips-edge' }, 'outside', 'SIPS_ERR_PROXY_LOOP', 'lb1.example'), '399 sips-edge "SIPS_ERR_PROXY_LOOP"');
  assert.equal(warningFor({ agent: 'sips-edge' }, 'inside', 'SIPS_ERR_PROXY_LOOP', 'lb1.example'), '399 sips-edge "SIPS_ERR_PROXY_LOOP: lb1.example"');
});
