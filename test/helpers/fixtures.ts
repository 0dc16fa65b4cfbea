import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Fixture files are read from the source tree (tests run from the repository root). */
export const FIXTURES = join(process.cwd(), 'test/fixtures');

export function sipFixture(name: string): Buffer {
  return readFileSync(join(FIXTURES, 'sip', name));
}

export function validSipFixtures(): { name: string; data: Buffer }[] {
  const dir = join(FIXTURES, 'sip/valid');
  return readdirSync(dir).filter((f) => f.endsWith('.sip')).sort().map((name) => ({ name, data: readFileSync(join(dir, name)) }));
}

export interface InvalidFixture {
  readonly name: string;
  readonly data: Buffer;
  readonly code: string;
  readonly framing: 'udp' | 'stream';
}

export function invalidSipFixtures(): InvalidFixture[] {
  const dir = join(FIXTURES, 'sip/invalid');
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as Record<string, { code: string; framing: 'udp' | 'stream' }>;
  return Object.entries(index).map(([name, v]) => ({ name, data: readFileSync(join(dir, name)), code: v.code, framing: v.framing }));
}
