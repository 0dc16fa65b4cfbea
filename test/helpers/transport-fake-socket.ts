import { EventEmitter } from 'node:events';
import type { FlowSocket } from '../../src/transport/flow.js';

/** A FlowSocket that records writes; tests drive 'data', 'drain' and 'close' by hand. */
export class FakeSocket extends EventEmitter implements FlowSocket {
  readonly writes: Buffer[] = [];
  writableLength = 0;
  paused = false;
  destroyed = false;
  ended = false;

  write(data: Uint8Array, callback?: (err?: Error | null) => void): boolean {
    this.writes.push(Buffer.from(data));
    if (callback) queueMicrotask(() => callback(null));
    return true;
  }

  end(callback?: () => void): this {
    this.ended = true;
    if (callback) queueMicrotask(callback);
    return this;
  }

  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    queueMicrotask(() => this.emit('close'));
    return this;
  }

  pause(): this {
    this.paused = true;
    return this;
  }

  resume(): this {
    this.paused = false;
    return this;
  }

  receive(data: string | Buffer): void {
    this.emit('data', typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }
}
