/**
 * The lab's calls and what each should do. The simulated region's side of the trunk configuration
 * (LAB_REGION) is written here, independently of config/sips-edge.yaml, so the lab checks the
 * edge's config against what the vendor expects instead of echoing it.
 */
import type { SipMessage } from '../message/message.js';
import { checkAnswer } from '../sdp/srtp-policy.js';
import type { PbxSimulator } from './pbx-sim.js';
import { warningText } from './lab-ua.js';
import type { ReportRow } from './report.js';
import type { RegionSpec, SimulatedRegion } from './vendor-region.js';

export const LAB_REGION: RegionSpec = {
  code: 'euc1',
  hosts: ['lb01', 'lb02', 'lb03', 'lb04'].map((h) => `${h}.voice.euc1.pure.cloud`),
  trunkContext: 'byoc.euc1.pure.cloud',
  trunkGroups: ['lab-tgrp'],
  fqdnHosts: ['lab-pbx.byoc.euc1.pure.cloud'],
};

export interface Scenario {
  readonly id: string;
  readonly direction: 'outbound' | 'inbound';
  readonly mode: ReportRow['mode'];
  readonly number: string;
  readonly srtp: boolean;
  readonly expectedStatus: number;
  readonly expected: string;
  /** Inbound: the lb host that places the call. */
  readonly via?: string;
}

/** Outbound numbers select the trunk by prefix (routing.outbound in config/sips-edge.yaml). */
export const SCENARIOS: readonly Scenario[] = [
  { id: '1', direction: 'outbound', mode: 'TGRP', number: '+49301110001', srtp: true, expectedStatus: 200, expected: '200, SRTP' },
  // A second call on the same trunk: round-robin takes the next lb host (S-URI-7).
  { id: '2', direction: 'outbound', mode: 'TGRP', number: '+49301110002', srtp: true, expectedStatus: 200, expected: '200, SRTP' },
  { id: '3', direction: 'outbound', mode: 'DNIS', number: '+49302220003', srtp: true, expectedStatus: 200, expected: '200, SRTP' },
  { id: '4', direction: 'outbound', mode: 'FQDN', number: '+49303330004', srtp: true, expectedStatus: 200, expected: '200, SRTP' },
  { id: '5', direction: 'outbound', mode: 'TGRP', number: '+49301110005', srtp: false, expectedStatus: 488, expected: '488 (no SRTP)' },
  { id: '6', direction: 'outbound', mode: 'TGRP', number: '+49309990006', srtp: true, expectedStatus: 404, expected: '404 (unknown tgrp)' },
  { id: '7', direction: 'inbound', mode: '-', number: '+4930555000', srtp: true, expectedStatus: 200, expected: '200 at PBX, SRTP', via: 'lb02.voice.euc1.pure.cloud' },
  { id: '8', direction: 'inbound', mode: '-', number: '+4930555000', srtp: false, expectedStatus: 488, expected: '488 (no SRTP)', via: 'lb03.voice.euc1.pure.cloud' },
];

export interface ScenarioContext {
  readonly region: SimulatedRegion;
  readonly pbx: PbxSimulator;
  readonly edgeInside: { readonly address: string; readonly port: number };
  readonly edgeOutside: { readonly name: string; readonly address: string; readonly port: number };
  /** Client-side TLS sessions the edge established and verified, by server name -> cipher. */
  readonly edgeVerified: ReadonlyMap<string, string>;
}

function statusText(res: SipMessage | null): string {
  if (res === null) return 'no answer';
  return `${res.status} ${res.startLine.kind === 'response' ? res.startLine.reason : ''}`.trim();
}

function srtpOf(offer: string, res: SipMessage | null, answer: string | null, answered: string | null): { text: string; ok: boolean } {
  if (res === null) return { text: '-', ok: false };
  if (res.status >= 200 && res.status < 300) {
    if (answer === null) return { text: 'no answer SDP', ok: false };
    const v = checkAnswer(offer, answer);
    return v.ok ? { text: `ok ${answered ?? ''}`.trim(), ok: /SAVP/.test(answer) && /a=crypto:/.test(answer) } : { text: `bad answer ${v.code}`, ok: false };
  }
  const w = warningText(res);
  return { text: res.status === 488 ? `refused${w ? ` (${w.split(':').slice(0, 2).join(':')})` : ''}` : 'offered, not reached', ok: res.status === 488 };
}

export async function runScenario(s: Scenario, ctx: ScenarioContext): Promise<ReportRow> {
  return s.direction === 'outbound' ? outbound(s, ctx) : inbound(s, ctx);
}

async function outbound(s: Scenario, ctx: ScenarioContext): Promise<ReportRow> {
  const r = await ctx.pbx.call(ctx.edgeInside, s.number, s.srtp);
  const lb = ctx.region.invites.get(r.callId);
  const status = r.final?.status ?? null;
  const fromRegion = lb !== undefined && lb.status === status;
  const verified = lb === undefined ? undefined : ctx.edgeVerified.get(lb.host);
  const nameOk = lb !== undefined && lb.servername === lb.host && verified !== undefined;
  const srtp = srtpOf(r.offer, r.final, r.answer, lb?.answered ?? null);
  let outcome = `${statusText(r.final)} from ${status === null ? '-' : fromRegion ? lb.host.split('.')[0] : 'edge'}`;
  if (r.byeStatus !== null) outcome += `, BYE ${r.byeStatus}`;
  const warning = r.final === null ? null : warningText(r.final);
  let pass = status === s.expectedStatus;
  if (s.expectedStatus === 200) pass &&= r.byeStatus === 200 && srtp.ok && nameOk && lb?.mode === s.mode;
  if (s.expectedStatus === 488) pass &&= srtp.ok;
  return {
    id: s.id,
    direction: 'outbound',
    mode: s.mode,
    srtpOffered: s.srtp,
    lbHost: lb?.host ?? null,
    cipher: lb?.cipher ?? null,
    nameValidation: lb === undefined ? '-' : nameOk ? `ok ${lb.host}` : `FAILED (SNI ${lb.servername ?? 'none'})`,
    srtp: srtp.text,
    status,
    outcome,
    expectedStatus: s.expectedStatus,
    expected: s.expected,
    pass,
    detail: [lb ? `R-URI ${lb.requestUri}` : '', warning ? `Warning ${warning}` : '', r.error ?? ''].filter(Boolean).join('; '),
  };
}

async function inbound(s: Scenario, ctx: ScenarioContext): Promise<ReportRow> {
  const c = await ctx.region.callEdge({ via: s.via ?? '', edge: ctx.edgeOutside, number: s.number, caller: '+4989777000', srtp: s.srtp });
  const base = { id: s.id, direction: 'inbound' as const, mode: s.mode, srtpOffered: s.srtp, lbHost: c.host, expectedStatus: s.expectedStatus, expected: s.expected };
  if (!c.tls.ok || c.result === null) {
    const why = c.tls.ok ? 'no call' : `${c.tls.reason}: ${c.tls.detail}`;
    return { ...base, cipher: null, nameValidation: c.tls.ok ? 'ok' : `FAILED ${c.tls.reason}`, srtp: '-', status: null, outcome: `TLS to edge failed`, pass: false, detail: why };
  }
  const r = c.result;
  const atPbx = ctx.pbx.received.get(r.callId);
  const status = r.final?.status ?? null;
  const srtp = srtpOf(c.offer, r.final, r.answer, atPbx?.answered ?? null);
  let outcome = `${statusText(r.final)}${atPbx ? ', reached PBX' : ', PBX not reached'}`;
  if (r.byeStatus !== null) outcome += `, BYE ${r.byeStatus}`;
  let pass = status === s.expectedStatus;
  if (s.expectedStatus === 200) pass &&= atPbx !== undefined && r.byeStatus === 200 && ctx.pbx.byes.has(r.callId) && srtp.ok;
  else pass &&= atPbx === undefined && srtp.ok;
  const warning = r.final === null ? null : warningText(r.final);
  return {
    ...base,
    cipher: c.tls.cipher,
    nameValidation: `ok ${c.tls.matchedName} (CRL ${c.tls.revocation})`,
    srtp: srtp.text,
    status,
    outcome,
    pass,
    detail: [atPbx ? `PBX R-URI ${atPbx.requestUri}` : '', warning ? `Warning ${warning}` : '', r.error ?? ''].filter(Boolean).join('; '),
  };
}
