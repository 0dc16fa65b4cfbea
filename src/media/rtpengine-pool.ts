/**
 * Several rtpengine instances behind one anchor. Every command of a call goes to the instance
 * holding its session, chosen once from the Call-ID by weighted rendezvous hashing (highest random
 * weight) over the instances that are up: an instance going down only moves the new calls that
 * would have gone to it, and an instance coming back takes only its share of new calls.
 *
 * A call is never moved: its media session lives on one instance. When that instance is down, the
 * call's commands fail (UNAVAILABLE) instead of creating a half session elsewhere.
 */
import { createHash } from 'node:crypto';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import type { BDict } from './bencode.js';
import { NgClient, NgCommandError, type NgReply } from './ng-client.js';
import { MediaError, type MediaInstanceState } from './types.js';

export interface RtpengineInstanceConfig {
  /** Label in logs and metrics; default `address:port`. */
  readonly name?: string;
  readonly address: string;
  /** Its ng control port (`--listen-ng`). */
  readonly port: number;
  /** Share of new calls, relative to the others (default 1). */
  readonly weight?: number;
}

export interface MediaCommandEvent {
  readonly command: string;
  readonly result: 'ok' | 'error' | 'timeout';
  readonly instance: string;
  readonly rttMs: number;
  readonly callId?: string;
  /** rtpengine's `error-reason` (result error), or why the command was not sent. */
  readonly errorReason?: string;
  /** rtpengine's `warning` of an ok reply. */
  readonly warning?: string;
}

export interface MediaInstanceEvent {
  readonly instance: string;
  readonly up: boolean;
  readonly reason: string;
}

/** The seam toward metrics and logs (wired by the composition root; no prom-client here). */
export interface MediaObserver {
  onCommand?(e: MediaCommandEvent): void;
  onInstanceState?(e: MediaInstanceEvent): void;
}

export interface RtpenginePoolOptions {
  readonly instances: readonly RtpengineInstanceConfig[];
  readonly timeoutMs: number;
  readonly retries: number;
  readonly pingIntervalMs: number;
  /** Calls whose instance is remembered (least recently used forgotten first). */
  readonly maxCalls?: number;
  /** Commands in flight per instance. */
  readonly maxPending?: number;
  readonly observer?: MediaObserver;
  readonly clock?: Clock;
}

interface Instance {
  readonly name: string;
  readonly weight: number;
  readonly client: NgClient;
  up: boolean;
  pinging: boolean;
}

/** Rendezvous score of one instance for one call: weight / -ln(u), u uniform in (0,1) from a hash. */
function score(callId: string, name: string, weight: number): number {
  const h = createHash('sha1').update(name).update('\n').update(callId).digest();
  const u = (h.readUIntBE(0, 6) + 0.5) / 2 ** 48;
  return weight / -Math.log(u);
}

/** The candidate with the highest rendezvous score for `callId` (null when there is none). */
export function rendezvousPick<T extends { readonly name: string; readonly weight: number }>(callId: string, candidates: readonly T[]): T | null {
  let best: T | null = null;
  let bestScore = -1;
  for (const c of candidates) {
    if (c.weight <= 0) continue;
    const s = score(callId, c.name, c.weight);
    if (s > bestScore || (s === bestScore && best !== null && c.name < best.name)) {
      best = c;
      bestScore = s;
    }
  }
  return best;
}

export interface PoolReply {
  readonly reply: NgReply;
  readonly instance: string;
}

export class RtpenginePool {
  private readonly list: Instance[];
  private readonly byName = new Map<string, Instance>();
  /** Call-ID -> instance holding its session, in least-recently-used order. */
  private readonly placement = new Map<string, Instance>();
  private readonly maxCalls: number;
  private readonly clock: Clock;
  private readonly observer: MediaObserver;
  private pingTimer: TimerHandle | null = null;
  private readonly firstRound: Promise<void>;
  private closed = false;

  constructor(private readonly opts: RtpenginePoolOptions) {
    if (opts.instances.length === 0) throw new MediaError('SIPS_ERR_MEDIA_UNAVAILABLE', 'no rtpengine instance configured');
    this.clock = opts.clock ?? systemClock;
    this.observer = opts.observer ?? {};
    this.maxCalls = opts.maxCalls ?? 100_000;
    this.list = opts.instances.map((c) => {
      const name = c.name ?? `${c.address}:${c.port}`;
      if (this.byName.has(name)) throw new MediaError('SIPS_ERR_MEDIA_UNAVAILABLE', `rtpengine instance ${name} configured twice`);
      const inst: Instance = {
        name,
        weight: c.weight ?? 1,
        // Instances start down: a call is taken only once its instance has answered a ping.
        up: false,
        pinging: false,
        client: new NgClient({
          address: c.address,
          port: c.port,
          timeoutMs: opts.timeoutMs,
          retries: opts.retries,
          clock: this.clock,
          ...(opts.maxPending !== undefined ? { maxPending: opts.maxPending } : {}),
        }),
      };
      this.byName.set(name, inst);
      return inst;
    });
    this.firstRound = this.pingAll();
    this.schedulePing();
  }

  /** Resolves once every instance has answered or failed its first ping. */
  ready(): Promise<void> {
    return this.firstRound;
  }

  available(): boolean {
    return this.list.some((i) => i.up);
  }

  states(): MediaInstanceState[] {
    return this.list.map((i) => ({ name: i.name, up: i.up }));
  }

  /** The instance a call's commands go to now (its placement if it has one), for tests and ops. */
  holderOf(callId: string): string | null {
    return this.placement.get(callId)?.name ?? null;
  }

  /**
   * Sends one command of a call. `newCall`: an initial offer (no to-tag) of a Call-ID not seen
   * before may be placed on any instance that is up.
   */
  async send(callId: string, dict: BDict, newCall: boolean): Promise<PoolReply> {
    const inst = this.holder(callId, newCall, true);
    return { reply: await this.run(inst, dict, callId), instance: inst.name };
  }

  /** A command that looks at a call without placing it (`query`). */
  async peek(callId: string, dict: BDict): Promise<PoolReply> {
    const inst = this.holder(callId, false, false);
    return { reply: await this.run(inst, dict, callId), instance: inst.name };
  }

  /** `delete` of a call: sent where it lives (unless that instance is down), then forgotten. */
  async remove(callId: string, dict: BDict): Promise<PoolReply | null> {
    const inst = this.placement.get(callId) ?? rendezvousPick(callId, this.list);
    this.placement.delete(callId);
    if (inst === null) return null;
    if (!inst.up) {
      this.observer.onCommand?.({ command: String(dict['command']), result: 'error', instance: inst.name, rttMs: 0, callId, errorReason: 'instance down, not sent' });
      return null;
    }
    return { reply: await this.run(inst, dict, callId), instance: inst.name };
  }

  private holder(callId: string, newCall: boolean, place: boolean): Instance {
    let inst = this.placement.get(callId);
    if (inst === undefined) {
      // A call the edge has not placed (an answer after a restart of the edge, or forgotten by the
      // LRU bound) is where the hash puts it with every instance counted.
      const pick = newCall ? rendezvousPick(callId, this.list.filter((i) => i.up)) : rendezvousPick(callId, this.list);
      if (pick === null) throw new MediaError('SIPS_ERR_MEDIA_UNAVAILABLE', 'no rtpengine instance is up');
      inst = pick;
    }
    if (!inst.up) throw new MediaError('SIPS_ERR_MEDIA_UNAVAILABLE', `rtpengine instance ${inst.name} holding the call is down`);
    if (!place) return inst;
    this.placement.delete(callId); // re-inserted: most recently used last
    this.placement.set(callId, inst);
    if (this.placement.size > this.maxCalls) {
      const oldest = this.placement.keys().next();
      if (oldest.done !== true) this.placement.delete(oldest.value);
    }
    return inst;
  }

  private async run(inst: Instance, dict: BDict, callId?: string): Promise<NgReply> {
    const command = String(dict['command']);
    try {
      const reply = await inst.client.command(dict);
      this.observer.onCommand?.({ command, result: 'ok', instance: inst.name, rttMs: reply.rttMs, ...(callId !== undefined ? { callId } : {}), ...(reply.warning !== undefined ? { warning: reply.warning } : {}) });
      return reply;
    } catch (e) {
      if (!(e instanceof NgCommandError)) throw e;
      const timeout = e.kind === 'timeout';
      this.observer.onCommand?.({
        command, result: timeout ? 'timeout' : 'error', instance: inst.name, rttMs: e.rttMs,
        ...(callId !== undefined ? { callId } : {}),
        errorReason: e.errorReason ?? e.kind,
      });
      if (timeout) this.mark(inst, false, `${command} timed out`);
      throw e;
    }
  }

  private mark(inst: Instance, up: boolean, reason: string): void {
    if (inst.up === up || this.closed) return;
    inst.up = up;
    this.observer.onInstanceState?.({ instance: inst.name, up, reason });
  }

  private async ping(inst: Instance): Promise<void> {
    if (inst.pinging || this.closed) return;
    inst.pinging = true;
    try {
      const r = await this.run(inst, { command: 'ping' });
      this.mark(inst, r.result === 'pong', r.result === 'pong' ? 'ping answered' : `ping answered ${r.result}`);
    } catch (e) {
      this.mark(inst, false, e instanceof NgCommandError && e.kind === 'timeout' ? 'ping timed out' : `ping failed: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      inst.pinging = false;
    }
  }

  private async pingAll(): Promise<void> {
    await Promise.all(this.list.map((i) => this.ping(i)));
  }

  private schedulePing(): void {
    if (this.closed) return;
    this.pingTimer = this.clock.setTimer(this.opts.pingIntervalMs, () => {
      void this.pingAll();
      this.schedulePing();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pingTimer?.cancel();
    await Promise.all(this.list.map((i) => i.client.close()));
  }
}
