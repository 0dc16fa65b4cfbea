/**
 * The lab's calls and what each should do. The simulated region's side of the trunk configuration
 * (LAB_REGION) is written here, independently of config/sips-edge.yaml, so the lab checks the
 * edge's config against what the vendor expects instead of echoing it.
 */
import type { SipMessage } from '../message/message.js';
import { checkAnswer } from '../sdp/srtp-policy.js';
import type { CarrierSimulator } from './carrier-sim.js';
import type { CallMedia } from './media/call-media.js';
import type { MediaStats } from './media/media-endpoint.js';
import { MEDIA_PACKETS } from './media/exchange.js';
import { mediaRows, type MediaRow } from './media/media-report.js';
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
  /**
   * The carrier's rows (issue 14): the inside end is the carrier simulator (RTP only, anchored by the
   * edge through rtpengine), real media flows both ways and the row passes only when it did.
   */
  readonly carrier?: true;
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

/** Carrier RTP <-> edge (rtpengine) <-> vendor SRTP; run only when the lab's rtpengine is up. */
export const MEDIA_SCENARIOS: readonly Scenario[] = [
  { id: '9', direction: 'outbound', mode: 'TGRP', number: '+49301110009', srtp: false, expectedStatus: 200, expected: '200, RTP<->SRTP both ways', carrier: true },
  // routing.inbound: +4940666 -> the carrier peer.
  { id: '10', direction: 'inbound', mode: '-', number: '+4940666010', srtp: true, expectedStatus: 200, expected: '200 at carrier, SRTP<->RTP both ways', via: 'lb04.voice.euc1.pure.cloud', carrier: true },
];

export interface ScenarioContext {
  readonly region: SimulatedRegion;
  readonly pbx: PbxSimulator;
  /** Null when the lab runs without rtpengine (then MEDIA_SCENARIOS are not run). */
  readonly carrier: CarrierSimulator | null;
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
  if (s.carrier === true) return s.direction === 'outbound' ? carrierOutbound(s, ctx) : carrierInbound(s, ctx);
  return s.direction === 'outbound' ? outbound(s, ctx) : inbound(s, ctx);
}

/** The answerer's stats once its packets are in (bounded), then both ends closed. */
async function finalStats(offerer: CallMedia, answerer: CallMedia | undefined): Promise<{ offerer: MediaStats; answerer: MediaStats | null }> {
  const a = answerer === undefined ? null : await answerer.waitFor((x) => x.payloadOk >= MEDIA_PACKETS, 1000).catch(() => answerer.stats());
  const o = offerer.stats();
  await Promise.all([offerer.close(), answerer?.close()].map((p) => p?.catch(() => undefined)));
  return { offerer: o, answerer: a };
}

function mediaOk(rows: readonly MediaRow[] | undefined): boolean {
  return rows !== undefined && rows.every((r) => r.ok);
}

function mediaDetail(rows: readonly MediaRow[] | undefined, error: string | null): string {
  if (error !== null) return `media: ${error}`;
  if (rows === undefined) return 'media: the far end has no media for this call';
  const bad = rows.filter((r) => !r.ok).map((r) => r.flow);
  return bad.length === 0 ? '' : `media short: ${bad.join(', ')}`;
}

async function carrierOutbound(s: Scenario, ctx: ScenarioContext): Promise<ReportRow> {
  if (ctx.carrier === null) throw new Error('the carrier rows need the lab rtpengine');
  ctx.region.mediaNumbers.add(s.number);
  const r = await ctx.carrier.call(ctx.edgeInside, s.number);
  const lb = ctx.region.invites.get(r.callId);
  const stats = await finalStats(r.media, ctx.region.media.get(r.callId));
  const media = stats.answerer === null ? undefined : mediaRows(stats.offerer, stats.answerer);
  const status = r.final?.status ?? null;
  const verified = lb === undefined ? undefined : ctx.edgeVerified.get(lb.host);
  const nameOk = lb !== undefined && lb.servername === lb.host && verified !== undefined;
  let outcome = `${statusText(r.final)} from ${status === null ? '-' : lb !== undefined && lb.status === status ? lb.host.split('.')[0] : 'edge'}`;
  if (r.byeStatus !== null) outcome += `, BYE ${r.byeStatus}`;
  const warning = r.final === null ? null : warningText(r.final);
  const pass = status === s.expectedStatus && r.byeStatus === 200 && nameOk && lb?.mode === s.mode && lb.answered !== null && r.mediaError === null && mediaOk(media);
  return {
    id: s.id,
    direction: 'outbound',
    mode: s.mode,
    srtpOffered: s.srtp,
    lbHost: lb?.host ?? null,
    cipher: lb?.cipher ?? null,
    nameValidation: lb === undefined ? '-' : nameOk ? `ok ${lb.host}` : `FAILED (SNI ${lb.servername ?? 'none'})`,
    srtp: lb?.answered != null ? `carrier RTP, vendor ${lb.answered}` : 'carrier RTP, vendor -',
    status,
    outcome,
    expectedStatus: s.expectedStatus,
    expected: s.expected,
    pass,
    detail: [lb ? `R-URI ${lb.requestUri}` : '', warning ? `Warning ${warning}` : '', r.error ?? '', mediaDetail(media, r.mediaError)].filter(Boolean).join('; '),
    ...(media === undefined ? {} : { media }),
  };
}

async function carrierInbound(s: Scenario, ctx: ScenarioContext): Promise<ReportRow> {
  if (ctx.carrier === null) throw new Error('the carrier rows need the lab rtpengine');
  const c = await ctx.region.callEdge({ via: s.via ?? '', edge: ctx.edgeOutside, number: s.number, caller: '+4989777000', srtp: true, media: true });
  const base = { id: s.id, direction: 'inbound' as const, mode: s.mode, srtpOffered: s.srtp, lbHost: c.host, expectedStatus: s.expectedStatus, expected: s.expected };
  if (!c.tls.ok || c.result === null || c.media === null) {
    await c.media?.close().catch(() => undefined);
    const why = c.tls.ok ? 'no call' : `${c.tls.reason}: ${c.tls.detail}`;
    return { ...base, cipher: null, nameValidation: c.tls.ok ? 'ok' : `FAILED ${c.tls.reason}`, srtp: '-', status: null, outcome: 'TLS to edge failed', pass: false, detail: why };
  }
  const r = c.result;
  const atCarrier = ctx.carrier.received.get(r.callId);
  const stats = await finalStats(c.media, ctx.carrier.media.get(r.callId));
  // mediaRows takes the inside (carrier) end first: here the carrier answered.
  const media = stats.answerer === null ? undefined : mediaRows(stats.answerer, stats.offerer);
  const status = r.final?.status ?? null;
  let outcome = `${statusText(r.final)}${atCarrier ? ', reached carrier' : ', carrier not reached'}`;
  if (r.byeStatus !== null) outcome += `, BYE ${r.byeStatus}`;
  const pass = status === s.expectedStatus && atCarrier?.status === 200 && r.byeStatus === 200 && ctx.carrier.byes.has(r.callId) && c.mediaError === null && mediaOk(media);
  const warning = r.final === null ? null : warningText(r.final);
  const answered = r.answer === null ? null : /^a=crypto:(\d+ \S+)/m.exec(r.answer)?.[1] ?? null;
  return {
    ...base,
    cipher: c.tls.cipher,
    nameValidation: `ok ${c.tls.matchedName} (CRL ${c.tls.revocation})`,
    srtp: `vendor ${answered ?? '-'}, carrier RTP`,
    status,
    outcome,
    pass,
    detail: [atCarrier ? `carrier R-URI ${atCarrier.requestUri}` : '', warning ? `Warning ${warning}` : '', r.error ?? '', mediaDetail(media, c.mediaError)].filter(Boolean).join('; '),
    ...(media === undefined ? {} : { media }),
  };
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
