/** YAML configs for integration tests: ephemeral ports, lab names mapped to loopback. */
export interface UdpTrunkOptions {
  /** Far-end SIPp ports, in target order (far1, far2, ...). */
  readonly farPorts: readonly number[];
  readonly failover?: number;
  readonly extra?: string;
  readonly timers?: string;
  readonly srtp?: 'strict' | 'audit';
  /** Fixed inside UDP port (0 = any). */
  readonly insidePort?: number;
  /** Host name of the first target instead of far1.lab.test (all map to 127.0.0.1). */
}

/** The edge between a SIPp "PBX" (inside, UDP) and SIPp far ends standing in for lb hosts over UDP. */
export function udpTrunkConfig(o: UdpTrunkOptions): string {
  const hosts = o.farPorts.map((p, i) => `      - { host: far${i + 1}.lab.test, port: ${p}, priority: ${i} }`).join('\n');
  const overrides = o.farPorts.map((_, i) => `    far${i + 1}.lab.test: [127.0.0.1]`).join('\n');
  return `edge:
  name: edge.test.sips-edge.test
listen:
  - { side: inside, transport: udp, address: 127.0.0.1, port: ${o.insidePort ?? 0} }
  - { side: outside, transport: udp, address: 127.0.0.1, port: 0 }
timers: ${o.timers ?? '{ T1: 100, T2: 1000, T4: 1000, timerC: 181000 }'}
trunks:
  - name: far
    hosts:
${hosts}
    transport: udp
    insecure: true
    mode: dnis
    strategy: priority
    failover: ${o.failover ?? 3}
    health: { enabled: false }
peers:
  - name: pbx
    host: 127.0.0.1
    port: 5090
    sources: [127.0.0.1/32]
    trunk: far
routing:
  defaultTrunk: far
  vendorSources: [127.0.0.1/32]
dns:
  overrides:
${overrides}
srtp:
  policy: ${o.srtp ?? 'strict'}
admin:
  enabled: false
${o.extra ?? ''}`;
}
