import { SipUri, socketHost, type Uri } from '../message/uri.js';
import type { PeerAddress } from '../transaction/types.js';
import { RouteSigner } from './route-signature.js';
import type { Side } from './types.js';

/** One listening socket as the proxy writes it into Via and Record-Route. */
export interface Leg {
  readonly side: Side;
  readonly transport: 'udp' | 'tcp' | 'tls';
  /** Advertised host: the certificate name on TLS legs, the bound (or advertised) address inside. */
  readonly host: string;
  readonly port: number;
  /** The address actually bound, to recognise which listener a message came in on. */
  readonly boundAddress: string;
}

/**
 * Who the edge is: its names and legs. Used to recognise its own Route/Record-Route entries and
 * Via sent-bys, requests addressed to the edge itself, and which side a message came from.
 */
export class ProxyIdentity {
  private readonly hosts: Set<string>;
  private readonly ports: Set<number>;

  /**
   * `routeSigner` signs and checks the edge's Record-Route entries; the default is a random key
   * (tests, single process).
   */
  constructor(readonly name: string, readonly legs: readonly Leg[], extraNames: readonly string[] = [], readonly routeSigner: RouteSigner = RouteSigner.random()) {
    this.hosts = new Set([name, ...extraNames].map((h) => h.toLowerCase()));
    for (const l of legs) {
      this.hosts.add(l.host.toLowerCase());
      if (l.boundAddress !== '0.0.0.0' && l.boundAddress !== '::') this.hosts.add(l.boundAddress.toLowerCase());
    }
    this.ports = new Set(legs.map((l) => l.port));
  }

  isOwnHost(host: string, port: number | null, secure = false): boolean {
    if (!this.hosts.has(socketHost(host).toLowerCase())) return false;
    const p = port ?? (secure ? 5061 : 5060);
    return this.ports.has(p);
  }

  isOwnUri(uri: Uri): boolean {
    return uri instanceof SipUri && this.isOwnHost(uri.host, uri.port, uri.scheme === 'sips' || uri.transport === 'tls');
  }

  /** The listener a message arrived on. */
  legOf(source: PeerAddress): Leg | undefined {
    const exact = this.legs.find((l) => l.transport === source.transport && l.port === source.localPort && l.boundAddress === source.localAddress);
    return exact ?? this.legs.find((l) => l.transport === source.transport && l.port === source.localPort);
  }

  /** The leg to leave by: same side, the target's transport if there is such a listener. */
  exitLeg(side: Side, transport: 'udp' | 'tcp' | 'tls'): Leg {
    const onSide = this.legs.filter((l) => l.side === side);
    const leg = onSide.find((l) => l.transport === transport) ?? onSide[0] ?? this.legs[0];
    if (leg === undefined) throw new Error('the edge has no listeners');
    // Without a listener of that side/transport (e.g. no outside TLS listener: the vendor can then
    // not open connections to us, but our own stay usable), keep the side so Record-Route says
    // which way the dialog leaves.
    return leg.transport === transport && leg.side === side ? leg : { ...leg, side, transport };
  }
}
