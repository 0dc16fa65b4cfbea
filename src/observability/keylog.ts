/**
 * SSLKEYLOGFILE-style TLS key logging (NSS key log format, one line per secret, as Node's
 * `keylog` event hands them over), so Wireshark can decrypt a lab capture. Off by default
 * (`tls.keyLogFile` unset); when on, the file is opened for append with mode 0600 (and chmod'ed
 * to 0600 if it already existed) and a warning is returned for the composition root to log.
 * Lines are written synchronously: they are short, rare (a few per handshake) and must be in the
 * file before anyone tries to decrypt the capture.
 */
import { chmodSync, closeSync, openSync, writeSync } from 'node:fs';
import type { Server as TlsServer, TLSSocket } from 'node:tls';

export interface KeyLog {
  readonly enabled: boolean;
  /** To log once at start when enabled: key logging defeats TLS for anyone who can read the file. */
  readonly warning: string | null;
  /** Call for each TLS server (accepted sockets) and each client TLSSocket (upstream connections). */
  attach(target: TlsServer | TLSSocket): void;
  /** Lines written so far (tests, the lab report). */
  readonly lines: number;
  close(): void;
}

const NOOP: KeyLog = { enabled: false, warning: null, attach() {}, lines: 0, close() {} };

export const KEYLOG_FILE_MODE = 0o600;

/** `file` undefined: the no-op key log. Throws (bad config) when the file cannot be opened. */
export function createKeyLog(file: string | undefined): KeyLog {
  if (file === undefined || file === '') return NOOP;
  const fd = openSync(file, 'a', KEYLOG_FILE_MODE);
  chmodSync(file, KEYLOG_FILE_MODE); // the mode above only applies when the file is created
  let open = true;
  let lines = 0;
  const write = (line: Buffer): void => {
    if (!open) return;
    const text = line[line.length - 1] === 0x0a ? line : Buffer.concat([line, Buffer.from('\n')]);
    writeSync(fd, text);
    lines++;
  };
  const onServerKeylog = (line: Buffer): void => write(line);
  const attached = new WeakSet<TlsServer | TLSSocket>();
  return {
    enabled: true,
    warning: `TLS key logging is ON: session keys are written to ${file}; anyone who can read it can decrypt captured traffic (lab debugging only, tls.keyLogFile)`,
    attach(target) {
      if (attached.has(target)) return;
      attached.add(target);
      // tls.Server emits (line, socket), TLSSocket emits (line): both start with the line.
      target.on('keylog', onServerKeylog);
    },
    get lines() { return lines; },
    close() {
      if (!open) return;
      open = false;
      closeSync(fd);
    },
  };
}
