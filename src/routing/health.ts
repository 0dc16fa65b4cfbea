/**
 * Up/down state of each upstream host of each trunk, with hysteresis: `downAfter` failures in a
 * row mark a host down, `upAfter` successes in a row mark it up again. Fed by active probes (an
 * injected `probe`, which the composition root wires to an OPTIONS over the TLS pool) every
 * `intervalSeconds` on the injected clock, and by passive feedback from transaction outcomes.
 * Hosts start up, so calls flow before the first probe round.
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { Resolver } from './resolver.js';

export interface ProbeHost {
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

export interface ProbeResult {
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly reason?: string;
}

export type Probe = (host: ProbeHost) => Promise<ProbeResult>;

export interface HealthSettings {
  readonly intervalSeconds: number;
  readonly downAfter: number;
  readonly upAfter: number;
  readonly enabled: boolean;
}

/** A host of a trunk: health is kept per (trunk, host). */
export interface HostRef {
  readonly trunk: string;
  readonly host: string;
}

export interface HealthChange extends HostRef {
  readonly region: string | undefined;
  readonly up: boolean;
  readonly reason: string | undefined;
}

export interface HostHealth extends HostRef {
  readonly region: string | undefined;
  readonly up: boolean;
  readonly failures: number;
  readonly successes: number;
  readonly lastReason: string | undefined;
  readonly lastLatencyMs: number | undefined;
}

export interface HealthMonitor {
  /** Registers a trunk's hosts (replaces an earlier registration of the trunk). */
  track(trunk: string, region: string | undefined, hosts: readonly { name: string; port: number }[], settings: HealthSettings): void;
  isUp(ref: HostRef): boolean;
  /** Seconds until a down host of this trunk can be up again at the earliest (for Retry-After). */
  retryAfterSeconds(trunk: string): number;
  reportFailure(ref: HostRef, reason: string): void;
  reportSuccess(ref: HostRef): void;
  /**
   * Takes a host's state as another monitor decided it (edge.workers: worker 1 probes, the
   * others follow its changes); `onChange` fires when it differs from what this one held.
   */
  apply(ref: HostRef, up: boolean, reason: string | undefined): void;
  /** Starts the probe timers (first round at once). */
  start(): void;
  stop(): void;
  snapshot(): readonly HostHealth[];
}

export interface HealthOptions {
  readonly clock: Clock;
  /** Absent: no active probes (passive feedback only). */
  readonly probe?: Probe;
  readonly resolver?: Resolver;
  readonly onChange?: (change: HealthChange) => void;
}

interface HostState {
  readonly trunk: string;
  readonly region: string | undefined;
  readonly host: string;
  readonly port: number;
  up: boolean;
  failures: number;
  successes: number;
  lastReason: string | undefined;
  lastLatencyMs: number | undefined;
  probing: boolean;
}

interface TrunkState {
  readonly settings: HealthSettings;
  readonly hosts: Map<string, HostState>;
  timer: TimerHandle | null;
}

export function createHealthMonitor(opts: HealthOptions): HealthMonitor {
  const trunks = new Map<string, TrunkState>();
  let running = false;

  const state = (ref: HostRef): { t: TrunkState; h: HostState } | undefined => {
    const t = trunks.get(ref.trunk);
    const h = t?.hosts.get(ref.host.toLowerCase());
    return t !== undefined && h !== undefined ? { t, h } : undefined;
  };

  function record(t: TrunkState, h: HostState, ok: boolean, reason: string | undefined): void {
    if (ok) {
      h.successes++;
      h.failures = 0;
      if (!h.up && h.successes >= t.settings.upAfter) flip(h, true, undefined);
    } else {
      h.failures++;
      h.successes = 0;
      h.lastReason = reason;
      if (h.up && h.failures >= t.settings.downAfter) flip(h, false, reason);
    }
  }

  function flip(h: HostState, up: boolean, reason: string | undefined): void {
    h.up = up;
    opts.onChange?.({ trunk: h.trunk, region: h.region, host: h.host, up, reason });
  }

  async function probeOne(t: TrunkState, h: HostState): Promise<void> {
    if (opts.probe === undefined || h.probing) return;
    h.probing = true;
    try {
      let address = h.host;
      if (opts.resolver !== undefined) {
        const r = await opts.resolver.resolve(h.host);
        if (!r.ok) return record(t, h, false, r.reason);
        address = r.addresses[0] ?? h.host;
      }
      let res: ProbeResult;
      try {
        res = await opts.probe({ name: h.host, address, port: h.port });
      } catch (e) {
        res = { ok: false, latencyMs: 0, reason: e instanceof Error ? e.message : String(e) };
      }
      h.lastLatencyMs = res.latencyMs;
      record(t, h, res.ok, res.reason ?? (res.ok ? undefined : 'probe failed'));
    } finally {
      h.probing = false;
    }
  }

  function schedule(t: TrunkState, delayMs: number): void {
    t.timer = opts.clock.setTimer(delayMs, () => {
      if (!running) return;
      // Next round is timed from this one, not from when the probes finish (a slow host must not
      // stretch the interval); a host still being probed is skipped this round.
      schedule(t, t.settings.intervalSeconds * 1000);
      for (const h of t.hosts.values()) void probeOne(t, h);
    });
  }

  function arm(t: TrunkState): void {
    t.timer?.cancel();
    t.timer = null;
    if (running && t.settings.enabled && opts.probe !== undefined) schedule(t, 0);
  }

  return {
    track(trunk, region, hosts, settings) {
      const old = trunks.get(trunk);
      old?.timer?.cancel();
      const map = new Map<string, HostState>();
      for (const h of hosts) {
        const key = h.name.toLowerCase();
        const prev = old?.hosts.get(key);
        // Keep what was learnt about the host, but take its port from the new registration.
        map.set(key, prev !== undefined ? { ...prev, port: h.port } : { trunk, region, host: key, port: h.port, up: true, failures: 0, successes: 0, lastReason: undefined, lastLatencyMs: undefined, probing: false });
      }
      const t: TrunkState = { settings, hosts: map, timer: null };
      trunks.set(trunk, t);
      arm(t);
    },
    isUp(ref) {
      const s = state(ref);
      // Untracked hosts and trunks with health disabled count as up.
      return s === undefined || !s.t.settings.enabled || s.h.up;
    },
    retryAfterSeconds(trunk) {
      const s = trunks.get(trunk)?.settings;
      return s === undefined ? 30 : s.intervalSeconds * s.upAfter;
    },
    reportFailure(ref, reason) {
      const s = state(ref);
      if (s !== undefined && s.t.settings.enabled) record(s.t, s.h, false, reason);
    },
    reportSuccess(ref) {
      const s = state(ref);
      if (s !== undefined && s.t.settings.enabled) record(s.t, s.h, true, undefined);
    },
    apply(ref, up, reason) {
      const s = state(ref);
      if (s === undefined) return;
      s.h.failures = 0;
      s.h.successes = 0;
      if (!up) s.h.lastReason = reason;
      if (s.h.up !== up) flip(s.h, up, reason);
    },
    start() {
      running = true;
      for (const t of trunks.values()) arm(t);
    },
    stop() {
      running = false;
      for (const t of trunks.values()) {
        t.timer?.cancel();
        t.timer = null;
      }
    },
    snapshot() {
      return [...trunks.values()].flatMap((t) => [...t.hosts.values()].map((h) => ({
        trunk: h.trunk, region: h.region, host: h.host, up: h.up, failures: h.failures,
        successes: h.successes, lastReason: h.lastReason, lastLatencyMs: h.lastLatencyMs,
      })));
    },
  };
}
