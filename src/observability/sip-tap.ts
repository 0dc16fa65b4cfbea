/**
 * One call per SIP message crossing the edge (received or sent, decrypted): a debug trace in the
 * log (keys redacted) and a HEP capture when a collector is configured. The composition root
 * calls it from the transport's message handler and send path.
 */
import type { Logger } from 'pino';
import { hostPort } from '../message/host-port.js';
import { componentLogger, logSipTrace } from './logger.js';

type HostPort = Parameters<typeof hostPort>[0];
import type { HepSender } from './hep.js';

export interface SipTapMessage {
  readonly direction: 'in' | 'out';
  readonly transport: string;
  readonly local: HostPort;
  readonly remote: HostPort;
  readonly data: Buffer;
  /** Wall-clock time of the message; default now. */
  readonly at?: Date;
}

export type SipTap = (m: SipTapMessage) => void;

/** Whether a tap would do anything (debug traces or HEP): when not, the edge passes no tap at all. */
export function sipTapEnabled(log: Logger, hep: HepSender): boolean {
  return hep.enabled || componentLogger(log, 'sip').isLevelEnabled('debug');
}

export function createSipTap(log: Logger, hep: HepSender): SipTap {
  const sipLog = componentLogger(log, 'sip');
  if (!hep.enabled) return (m) => logSipTrace(sipLog, m);
  return (m) => {
    logSipTrace(sipLog, m);
    hep.capture(m.direction, m.transport, m.local, m.remote, m.data, m.at ?? new Date());
  };
}
