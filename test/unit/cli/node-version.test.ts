import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { minimumNodeMajor, unsupportedNode } from '../../../src/cli/node-version.js';

test('the minimum is read from package.json engines.node, and the suite itself runs on a Node it admits', () => {
  // .test-build/test/unit/cli -> the repository root.
  const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
  const min = minimumNodeMajor(pkg.engines.node);
  assert.equal(min, 24, `engines.node "${pkg.engines.node}" reads as Node 24`);
  assert.equal(unsupportedNode(process.version, min), null, 'the suite runs on the pinned Node');
});

test('engines ranges: ">=N" forms are read, anything else gives no minimum', () => {
  assert.equal(minimumNodeMajor('>=24'), 24);
  assert.equal(minimumNodeMajor('>= 22.12.0'), 22);
  assert.equal(minimumNodeMajor('^24 || ^26'), null);
  assert.equal(minimumNodeMajor(undefined), null);
});

test('Node at or past the minimum is accepted, whatever the minor and patch', () => {
  assert.equal(unsupportedNode('v24.0.0', 24), null);
  assert.equal(unsupportedNode('v24.21.0', 24), null);
  assert.equal(unsupportedNode('v26.1.3', 24), null);
});

test('older Node is refused with the version seen and how to run the pinned one', () => {
  const told = unsupportedNode('v20.20.2', 24);
  assert.ok(told !== null);
  assert.match(told, /needs Node\.js 24 or later and runs on v20\.20\.2/);
  assert.match(told, /npm start/);
  assert.notEqual(unsupportedNode('v23.11.1', 24), null);
});

test('a version string that cannot be read is refused, not taken for new enough', () => {
  assert.notEqual(unsupportedNode('', 24), null);
  assert.notEqual(unsupportedNode('garbage', 24), null);
});
