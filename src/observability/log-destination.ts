/**
 * Where the edge's JSON log lines go (stdout by default): queued, and written after each loop turn
 * in batches. pino's synchronous destination wrote every line at once, one write(2) each, and
 * blocked the event loop as soon as the reader fell a pipe's 64 KB behind: a process logging into an
 * unread pipe ran no timer for as long as the pipe stayed full
 * (test/integration/observability/log-destination.test.ts).
 *
 * - What a loop turn logs goes out after the turn (setImmediate), in writes of whole lines of at most
 *   PIPE_BUF (4,096) bytes, a longer line alone: POSIX makes such a write to a pipe atomic, so the
 *   lines of several workers sharing one stdout never interleave, and a turn's lines cost one
 *   write(2) instead of one each (5.5 µs a line against a pipe, 2026-12-03).
 * - A pipe (a shell's `|`, Docker's and containerd's log FIFOs) is opened again, non-blocking
 *   (nonBlockingFd): a full pipe answers EAGAIN, the lines wait in memory (at most
 *   `maxQueuedBytes`, 8 MB by default) and a timer retries every 50 ms. Past the cap a line is
 *   dropped and counted (`sips_edge_log_lines_dropped_total`); a pipe that takes nothing for 5 s has
 *   its queue dropped too, so neither memory nor an exit waits for a reader that never reads. Once
 *   the queue has drained a `log-dropped` line says how many lines were lost.
 * - A socket (journald's stream under systemd, a Node parent's socketpair) is made non-blocking
 *   (nonBlockingSocket) and then treated like the pipe: EAGAIN, queue, retry, drop past the cap or 5 s.
 *   A socket cannot be opened again, so the flag is on the one open file description every process
 *   holding this end shares: the edge's primary and its workers (each writes through a destination
 *   like this one), nothing else the edge starts (rtpengine's stdout is not inherited). Node's own
 *   `process.stdout` sets the same flag on a socket. A write of at most PIPE_BUF is still whole on a
 *   Unix stream socket: Linux queues it as one buffer or answers EAGAIN (unix_stream_sendmsg sends
 *   up to half the send buffer per buffer), so workers' lines do not interleave there either.
 * - A file or a TTY is written as it is. The writes are synchronous on purpose: on libuv's thread
 *   pool (`fs.write`) a write blocked by a stalled reader held a pool thread, and Node's exit waits
 *   for its pool threads: the process could not end.
 * - At exit whatever is queued is written once more; on a pipe, what does not fit is dropped.
 */
import fs from 'node:fs';
import net from 'node:net';

/** POSIX PIPE_BUF on Linux: writes up to this size to a pipe are atomic. */
const PIPE_BUF = 4096;
/** Retry delay after EAGAIN (a non-blocking fd whose pipe is full). */
const RETRY_MS = 50;
/**
 * A pipe that has taken nothing for this long: what is queued is dropped (and counted), so a
 * reader that never reads again does not hold the queue, nor the process at exit, for ever.
 */
const STALL_GIVE_UP_MS = 5_000;

const all = new Set<LogDestination>();

/**
 * A pipe (a FIFO) is opened again through /proc, non-blocking: a new open file description, so the
 * flag does not reach the other holders of the pipe (the other workers, the reader). A full pipe
 * then answers EAGAIN instead of blocking the loop in write(2). A socket is made non-blocking in
 * place (nonBlockingSocket). Anything else is used as it is.
 */
function nonBlockingFd(fd: number): { readonly fd: number; readonly holder: net.Socket | null } {
  try {
    const st = fs.fstatSync(fd);
    if (st.isFIFO()) return { fd: fs.openSync(`/proc/self/fd/${fd}`, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK), holder: null };
    if (st.isSocket()) return { fd, holder: nonBlockingSocket(fd) };
  } catch {
    // No /proc, no reader at the moment (ENXIO), or a socket libuv cannot take (a datagram socket): the fd as it is.
  }
  return { fd, holder: null };
}

/**
 * Node has no fcntl; libuv sets O_NONBLOCK on a stream socket it opens (uv_pipe_open, uv_tcp_open),
 * which is what `process.stdout` does on a socket too. The handle is only held, never read or
 * written (it is not active, so it keeps no loop alive), and never closed: closing it would close the fd.
 */
function nonBlockingSocket(fd: number): net.Socket {
  return new net.Socket({ fd, readable: false, writable: true });
}

let exitHooked = false;

/** Log lines dropped by every destination of this process (for /metrics). */
export function droppedLogLines(): number {
  let n = 0;
  for (const d of all) n += d.dropped;
  return n;
}

export class LogDestination {
  /** Lines waiting, from `head` on (the array is compacted when it drains). */
  private queue: string[] = [];
  private head = 0;
  private queuedBytes = 0;
  /** The batch being written, and how far (a full pipe can stop it between retries). */
  private pending: { readonly buf: Buffer; offset: number; readonly lines: number } | null = null;
  private retryPending = false;
  private scheduled = false;
  private droppedSinceNotice = 0;
  /** When the current run of EAGAIN began (0: the last write went through). */
  private stalledSince = 0;
  /** The fd failed for good (EPIPE: the reader is gone; EBADF): lines are counted, not written. */
  private broken = false;
  /** Lines dropped since this destination was made. */
  dropped = 0;

  private readonly fd: number;
  /** The socket handle that made `fd` non-blocking (nonBlockingSocket), held for the destination's life. */
  private readonly socketHolder: net.Socket | null;

  /**
   * `noticeFields`: what the logger adds to every line (its `base`, e.g. `worker`), so the
   * `log-dropped` line, written here and not through pino, says which process lost the lines.
   */
  constructor(fd = 1, private readonly maxQueuedBytes = 8 * 1024 * 1024, private readonly noticeFields: Readonly<Record<string, string | number>> = {}) {
    const opened = nonBlockingFd(fd);
    this.fd = opened.fd;
    this.socketHolder = opened.holder;
    all.add(this);
    if (!exitHooked) {
      exitHooked = true;
      process.on('exit', () => {
        for (const d of all) d.flushAtExit();
      });
    }
  }

  /** pino's DestinationStream: one newline-terminated line per call. */
  write(line: string): void {
    if (this.broken || this.queuedBytes + line.length > this.maxQueuedBytes) {
      this.dropped++;
      this.droppedSinceNotice++;
      return;
    }
    this.queue.push(line);
    this.queuedBytes += line.length;
    if (!this.retryPending && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.pump();
      });
    }
  }

  /** Lines waiting (a test and diagnostics aid). */
  get queuedLines(): number {
    return this.queue.length - this.head;
  }

  /**
   * Writes what is queued, batch after batch, synchronously (a write is a few microseconds; why not
   * on the thread pool: the file comment). A non-blocking pipe that is full answers EAGAIN, and the
   * rest waits for a retry timer.
   */
  private pump(): void {
    if (this.retryPending || this.broken) return;
    for (;;) {
      if (this.pending === null) {
        if (this.queuedLines === 0) {
          if (this.droppedSinceNotice === 0) return;
          this.queueNotice();
        }
        const batch = this.takeBatch(PIPE_BUF);
        this.pending = { buf: batch.buf, offset: 0, lines: batch.lines };
      }
      const p = this.pending;
      try {
        p.offset += fs.writeSync(this.fd, p.buf, p.offset, p.buf.length - p.offset);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
          const now = Date.now();
          if (this.stalledSince === 0) this.stalledSince = now;
          if (now - this.stalledSince < STALL_GIVE_UP_MS) {
            this.retryPending = true;
            setTimeout(() => {
              this.retryPending = false;
              this.pump();
            }, RETRY_MS);
            return;
          }
        } else {
          // The reader is gone (EPIPE) or the fd is broken: nothing more will be written.
          this.broken = true;
        }
        // The pipe took nothing for STALL_GIVE_UP_MS, or will take nothing: the batch and the queue are lost, counted.
        this.dropped += p.lines;
        this.droppedSinceNotice += p.lines;
        this.pending = null;
        this.stalledSince = 0;
        this.dropQueued();
        if (this.broken) return;
        continue;
      }
      this.stalledSince = 0;
      if (p.offset >= p.buf.length) this.pending = null;
    }
  }

  /** Whole lines from the queue's head, at most `limit` bytes (the first line alone if it is longer). */
  private takeBatch(limit: number): { readonly buf: Buffer; readonly lines: number } {
    const q = this.queue;
    const start = this.head;
    let text = q[start]!;
    let bytes = Buffer.byteLength(text);
    let end = start + 1;
    while (end < q.length) {
      const b = Buffer.byteLength(q[end]!);
      if (bytes + b > limit) break;
      text += q[end]!;
      bytes += b;
      end++;
    }
    for (let i = start; i < end; i++) this.queuedBytes -= q[i]!.length;
    if (end === q.length) {
      this.queue = [];
      this.head = 0;
    } else {
      this.head = end;
    }
    return { buf: Buffer.from(text, 'utf8'), lines: end - start };
  }

  private dropQueued(): void {
    const n = this.queuedLines;
    this.dropped += n;
    this.droppedSinceNotice += n;
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
  }

  private queueNotice(): void {
    const n = this.droppedSinceNotice;
    this.droppedSinceNotice = 0;
    const line = JSON.stringify({
      level: 40, severity: 'warn', time: new Date().toISOString(), pid: process.pid, ...this.noticeFields,
      event: 'log-dropped', lines: n, msg: `${n} log lines dropped: the log reader fell behind`,
    }) + '\n';
    this.queue.push(line);
    this.queuedBytes += line.length;
  }

  /** At exit (process.exit, or the loop ending with lines still queued): what a write can take now. */
  private flushAtExit(): void {
    if (this.broken) return;
    this.retryPending = false;
    this.stalledSince = Date.now() - STALL_GIVE_UP_MS;
    try {
      this.pump();
    } catch {
      // Nothing left to tell at exit if even this fails.
    }
  }
}
