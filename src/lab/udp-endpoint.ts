/**
 * One UDP socket carrying a LabUa (the PBX and carrier simulators): bound on a loopback address,
 * every datagram parsed and handed to the UA with the hop its answer takes (RFC 3261 §18.2.2 +
 * RFC 3581 §4: a request's responses go to received/rport, else the sent-by).
 */
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { parseMessage } from '../message/parse-message.js';
import type { SipMessage } from '../message/message.js';
import type { Hop, LabUa } from './lab-ua.js';

export class UdpEndpoint {
  private constructor(private readonly socket: dgram.Socket, private readonly agent: string, readonly address: string, readonly port: number) {}

  static async bind(agent: string, address: string, port: number): Promise<UdpEndpoint> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', () => undefined);
    const a = socket.address() as AddressInfo;
    return new UdpEndpoint(socket, agent, a.address, a.port);
  }

  /** Hands every parsable datagram to `ua` (unparsable ones are dropped, as a lab phone would). */
  attach(ua: LabUa): void {
    this.socket.on('message', (data, rinfo) => {
      const r = parseMessage(data, { framing: 'udp' });
      if (!r.ok) return;
      const msg = r.value;
      ua.receive(msg, msg.isRequest ? this.responseHop(msg, rinfo) : this.hopTo(rinfo.address, rinfo.port));
    });
  }

  hopTo(address: string, port: number): Hop {
    return { reliable: false, label: `${this.agent} -> ${address}:${port}`, send: (data) => this.socket.send(data, port, address) };
  }

  private responseHop(req: SipMessage, rinfo: dgram.RemoteInfo): Hop {
    const via = req.via();
    const host = via.received ?? via.host;
    const port = typeof via.rport === 'number' ? via.rport : via.rport === null ? rinfo.port : via.port ?? 5060;
    return this.hopTo(host.replace(/^\[|\]$/g, ''), port);
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
