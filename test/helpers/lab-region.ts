/**
 * The lab's simulated vendor region (src/lab/vendor-region.ts) for integration tests, one
 * `SimulatedRegion` per lb host so that a single host can be stopped and restarted on the same
 * port, or present another certificate (a negative case of the lab PKI) than its own leaf.
 * Everything on 127.0.0.1, ports chosen by the OS at first start.
 */
import type { LabPki } from '../../src/tls/lab-pki.js';
import { resolveTlsPolicy, type TlsPolicy } from '../../src/tls/policy.js';
import { SimulatedRegion, type LbInvite, type RegionHostFiles, type RegionSpec } from '../../src/lab/vendor-region.js';

export const REGION_CODE = 'euc1';
export const LB_HOSTS: readonly string[] = ['lb01', 'lb02', 'lb03', 'lb04'].map((h) => `${h}.voice.${REGION_CODE}.pure.cloud`);

/** The vendor's side of the trunk configuration the tests' edge config is checked against. */
export const IT_REGION: RegionSpec = {
  code: REGION_CODE,
  hosts: LB_HOSTS,
  trunkContext: `byoc.${REGION_CODE}.pure.cloud`,
  trunkGroups: ['it-tgrp'],
  fqdnHosts: [`lab-pbx.byoc.${REGION_CODE}.pure.cloud`],
};

export interface LabHostsOptions {
  readonly pki: LabPki;
  /** Per host name: the files it presents instead of its own lab leaf (e.g. the wrong-name case). */
  readonly present?: Readonly<Record<string, RegionHostFiles>>;
  readonly policy?: TlsPolicy;
}

interface HostSlot {
  readonly name: string;
  port: number;
  region: SimulatedRegion | null;
  /** INVITEs seen by earlier incarnations (before a restart). */
  readonly past: LbInvite[];
}

/** Four simulated lb hosts, each its own TLS server, individually stoppable. */
export class LabHosts {
  private constructor(private readonly o: LabHostsOptions, private readonly slots: readonly HostSlot[], private readonly policy: TlsPolicy) {}

  static async start(o: LabHostsOptions): Promise<LabHosts> {
    const policy = o.policy ?? resolveTlsPolicy({});
    const hosts = new LabHosts(o, LB_HOSTS.map((name) => ({ name, port: 0, region: null, past: [] })), policy);
    try {
      for (const s of hosts.slots) await hosts.startSlot(s);
    } catch (e) {
      await hosts.stop();
      throw e;
    }
    return hosts;
  }

  private files(name: string): RegionHostFiles {
    const own = this.o.pki.vendor[name];
    if (own === undefined) throw new Error(`the lab PKI has no leaf for ${name}`);
    return this.o.present?.[name] ?? { chain: own.chain, key: own.key };
  }

  private async startSlot(s: HostSlot): Promise<void> {
    const pki = this.o.pki;
    s.region = await SimulatedRegion.start({
      spec: { ...IT_REGION, hosts: [s.name] },
      files: (host) => this.files(host),
      policy: this.policy,
      address: '127.0.0.1',
      ports: [s.port],
      t1Ms: 500,
      edgeTrust: { roots: [pki.roots.ev, pki.roots.g2], crlFiles: [pki.crls.ev.pem, pki.crls.g2.pem] },
    });
    s.port = s.region.hosts[0]!.port;
  }

  private slot(name: string): HostSlot {
    const s = this.slots.find((x) => x.name === name);
    if (s === undefined) throw new Error(`no lab host ${name}`);
    return s;
  }

  /** name -> port, in lb01..lb04 order. */
  get ports(): readonly { readonly name: string; readonly port: number }[] {
    return this.slots.map((s) => ({ name: s.name, port: s.port }));
  }

  port(name: string): number {
    return this.slot(name).port;
  }

  /** The running region object of one host (for callEdge). */
  region(name: string): SimulatedRegion {
    const r = this.slot(name).region;
    if (r === null) throw new Error(`${name} is stopped`);
    return r;
  }

  /** Every INVITE a host has answered, over all its incarnations. */
  invites(name: string): readonly LbInvite[] {
    const s = this.slot(name);
    return [...s.past, ...(s.region === null ? [] : s.region.invites.values())];
  }

  /** INVITE counts per host name. */
  counts(): Record<string, number> {
    return Object.fromEntries(this.slots.map((s) => [s.name, this.invites(s.name).length]));
  }

  /** Closes one host's server and drops its connections (the edge sees them close). */
  async stopHost(name: string): Promise<void> {
    const s = this.slot(name);
    if (s.region === null) return;
    const r = s.region;
    s.region = null;
    s.past.push(...r.invites.values());
    await r.stop();
  }

  /** Starts a stopped host again on its old port. */
  async restartHost(name: string): Promise<void> {
    const s = this.slot(name);
    if (s.region !== null) return;
    await this.startSlot(s);
  }

  async stop(): Promise<void> {
    for (const s of this.slots) await this.stopHost(s.name);
  }
}

/** The files of the lab PKI an edge config needs (absolute paths). */
export function labFiles(pki: LabPki): { readonly roots: readonly string[]; readonly crls: readonly string[]; readonly edgeChain: string; readonly edgeKey: string; readonly edgeName: string } {
  return {
    roots: [pki.roots.ev, pki.roots.g2],
    crls: [pki.crls.ev.pem, pki.crls.g2.pem],
    edgeChain: pki.edge.chain,
    edgeKey: pki.edge.key,
    edgeName: pki.edge.host,
  };
}
