/**
 * Free ports for peers that cannot bind port 0 themselves (SIPp, Kamailio, baresip, rtpengine's ng).
 *
 * A port taken from the kernel with bind(0) and released is back in the ephemeral range, where the
 * next outbound connect() or bind(0) of any process on the machine may take it before the peer binds
 * it (seen in CI: Kamailio's TLS port "Address already in use"). So these come from 10000-29999:
 * below the ephemeral range (32768-60999 by default) and below the RTP windows the rtpengine helpers
 * use (30000-59999). A candidate is tried on TCP and UDP of 127.0.0.1 and handed out only if both bind;
 * ports handed out by this process are not handed out again.
 */
import { createSocket } from 'node:dgram';
import net from 'node:net';

const LOW = 10_000;
const HIGH = 29_999;
const given = new Set<number>();

function bindsTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

function bindsUdp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => { s.close(); resolve(false); });
    s.bind({ port, address: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A port free on 127.0.0.1 for both TCP and UDP, outside the kernel's ephemeral range. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 1000; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (given.has(port)) continue;
    if ((await bindsTcp(port)) && (await bindsUdp(port))) {
      given.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${LOW}-${HIGH} on 127.0.0.1 after 1000 tries`);
}

export const freeUdpPort = freePort;
export const freeTcpPort = freePort;
