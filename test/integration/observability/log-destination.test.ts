import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';

/**
 * The log never stalls the edge on a pipe (src/observability/log-destination.ts): a child process
 * logs through the edge's logger into a pipe nobody reads, and must keep running its timers; once
 * the reader reads, every line arrives whole and in order, or, past the queue's cap, is counted in a
 * `log-dropped` line. pino's synchronous destination, used before, froze the child on the first
 * full pipe: "alive" never came.
 */
const LOGGER = pathToFileURL(join(process.cwd(), '.test-build/src/observability/logger.js')).href;
const DESTINATION = pathToFileURL(join(process.cwd(), '.test-build/src/observability/log-destination.js')).href;
const LINES = 10_000;

/** Logs LINES lines of ~300 bytes (3 MB, far past any pipe or socket buffer), then proves its loop runs; exits when stdin ends. */
function childScript(capBytes: number | null): string {
  return `
    import { createLogger } from ${JSON.stringify(LOGGER)};
    import { LogDestination } from ${JSON.stringify(DESTINATION)};
    const destination = ${capBytes === null ? 'undefined' : `new LogDestination(1, ${capBytes}, { worker: 3 })`};
    const log = createLogger({ level: 'info', pretty: false, ...(destination ? { destination } : {}) });
    for (let n = 0; n < ${LINES}; n++) log.info({ event: 'transaction', n, pad: 'x'.repeat(200) }, 'line');
    setTimeout(() => process.stderr.write('alive\\n'), 20);
    process.stdin.resume();
    process.stdin.on('end', () => process.stdin.pause());
  `;
}

interface Child {
  readonly stderrLine: (text: string) => Promise<void>;
  readonly endStdin: () => void;
  readonly exited: Promise<unknown>;
}

function start(capBytes: number | null, stdout: 'pipe' | number): Child & { readonly proc: ReturnType<typeof spawn> } {
  const proc = spawn(process.execPath, ['--input-type=module', '-e', childScript(capBytes)], { stdio: ['pipe', stdout, 'pipe'] });
  let err = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    for (const w of waiters.splice(0)) if (err.includes(w.text)) w.resolve(); else waiters.push(w);
  });
  return {
    proc,
    stderrLine: (text) => new Promise<void>((resolve) => { if (err.includes(text)) resolve(); else waiters.push({ text, resolve }); }),
    endStdin: () => proc.stdin!.end(),
    exited: once(proc, 'exit'),
  };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let out = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) out += chunk as string;
  return out;
}

function records(text: string): Record<string, unknown>[] {
  assert.ok(text.endsWith('\n'), 'the output ends with a whole line');
  return text.slice(0, -1).split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('stdout a socket (a Node parent, journald) read as it comes: every line arrives whole and in order, a turn\'s lines batched', { timeout: 60_000 }, async () => {
  const child = start(null, 'pipe');
  const all = readAll(child.proc.stdout!);
  await child.stderrLine('alive');
  child.endStdin();
  await child.exited;
  const lines = records(await all);
  assert.equal(lines.length, LINES);
  lines.forEach((r, i) => assert.equal(r['n'], i));
});

/** The capped child's output: some lines dropped, whole and in order, one notice that counts them and names the worker. */
function assertCapped(lines: Record<string, unknown>[]): void {
  const logged = lines.filter((r) => r['event'] === 'transaction');
  const notice = lines.filter((r) => r['event'] === 'log-dropped');
  assert.ok(logged.length < LINES, `${logged.length} lines arrived: the cap dropped none`);
  assert.equal(notice.length, 1);
  assert.equal(notice[0]!['lines'], LINES - logged.length, 'the notice counts every dropped line');
  assert.equal(notice[0]!['worker'], 3, 'the notice carries the logger\'s worker field');
  for (let i = 1; i < logged.length; i++) assert.ok((logged[i]!['n'] as number) > (logged[i - 1]!['n'] as number), 'in order');
}

test('stdout a socket nobody reads (journald stalled, a Node parent that stopped reading), past the queue cap: the loop keeps running, the excess is dropped and counted', { timeout: 60_000 }, async () => {
  // Node's stdio 'pipe' is a Unix stream socketpair; the parent reads nothing until "alive" (its
  // stream buffers at most its high-water mark and stops reading). Before the socket was made
  // non-blocking the child stayed in write(2) here and "alive" never came.
  const child = start(256 * 1024, 'pipe');
  await child.stderrLine('alive');
  const all = readAll(child.proc.stdout!);
  child.endStdin();
  await child.exited;
  assertCapped(records(await all));
});

test('stdout a pipe nobody reads, past the queue cap: the loop keeps running, the excess is dropped and counted, what arrives is whole and in order', { timeout: 60_000 }, async () => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'sips-edge-log-'));
  const fifo = join(dir, 'stdout');
  execFileSync('mkfifo', [fifo]);
  const readFd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const writeFd = fs.openSync(fifo, fs.constants.O_WRONLY);
  try {
    const child = start(256 * 1024, writeFd);
    fs.closeSync(writeFd);
    await child.stderrLine('alive');
    const reader = new net.Socket({ fd: readFd, readable: true, writable: false });
    const all = readAll(reader);
    child.endStdin();
    await child.exited;
    assertCapped(records(await all));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the reader gone (EPIPE): every line is counted as dropped, and the process still ends on its own', { timeout: 60_000 }, async () => {
  const script = `
    import { createLogger } from ${JSON.stringify(LOGGER)};
    import { droppedLogLines } from ${JSON.stringify(DESTINATION)};
    const log = createLogger({ level: 'info', pretty: false });
    process.stdin.once('data', () => {
      for (let n = 0; n < 1000; n++) log.info({ n }, 'line');
      setTimeout(() => process.stderr.write('dropped ' + droppedLogLines() + '\\n'), 200);
    });
    process.stdin.resume();
  `;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  proc.stdout.destroy();
  proc.stdin.end('go\n');
  const [code] = (await once(proc, 'exit')) as [number | null];
  assert.equal(code, 0);
  assert.match(err, /^dropped (\d+)\n$/);
  assert.ok(Number(/dropped (\d+)/.exec(err)![1]) >= 1000, err);
});
