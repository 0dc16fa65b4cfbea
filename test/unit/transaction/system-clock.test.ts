import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock, type TimerHandle } from '../../../src/clock.js';

// systemClock.schedule: transaction timers kept in one list per duration (no Node timer each).
// Order and cancellation only; how late a timer fires is not asserted (no timing in tests).
// The clock's timers are unref'd (they never keep a process alive): a ref'd interval holds the
// test's event loop open while it waits.

async function held<T>(p: Promise<T>): Promise<T> {
  const keep = setInterval(() => undefined, 1_000);
  try {
    return await p;
  } finally {
    clearInterval(keep);
  }
}

test('scheduled timers fire once each, in due order, and a cancelled one never fires', async () => {
  const fired: string[] = [];
  const names = new Map<TimerHandle, string>();
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => { done = resolve; });
  const target = {
    onTimer(h: TimerHandle) {
      fired.push(names.get(h)!);
      if (fired.length === 4) done();
    },
  };
  const add = (name: string, ms: number) => names.set(systemClock.schedule(ms, target), name);
  add('a20', 20);
  add('b5', 5);
  const cancelled = systemClock.schedule(5, target);
  names.set(cancelled, 'cancelled');
  add('c5', 5);
  add('d30', 30);
  cancelled.cancel();
  cancelled.cancel(); // twice is harmless
  await held(all);
  assert.deepEqual(fired, ['b5', 'c5', 'a20', 'd30']);
});

test('a timer scheduled from a firing one on the same list fires too; cancelling a fired one is a no-op', async () => {
  const order: number[] = [];
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => { finish = resolve; });
  let first: TimerHandle | null = null;
  const target = {
    onTimer(h: TimerHandle) {
      order.push(order.length);
      if (h === first) {
        first.cancel();
        systemClock.schedule(7, target);
      } else {
        finish();
      }
    },
  };
  first = systemClock.schedule(7, target);
  await held(finished);
  assert.deepEqual(order, [0, 1]);
});
