import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIN_NODE_MAJOR, unsupportedNode } from '../../../src/cli/node-version.js';

test('Node 24 and later are accepted, whatever the minor and patch', () => {
  assert.equal(unsupportedNode('v24.0.0'), null);
  assert.equal(unsupportedNode('v24.21.0'), null);
  assert.equal(unsupportedNode('v26.1.3'), null);
  assert.equal(unsupportedNode(process.version), null, 'the suite itself runs on the pinned Node');
});

test('older Node is refused with the version seen and how to run the pinned one', () => {
  const told = unsupportedNode('v20.20.2');
  assert.ok(told !== null);
  assert.match(told, /needs Node\.js 24 or later and runs on v20\.20\.2/);
  assert.match(told, /npm start/);
  assert.notEqual(unsupportedNode('v23.11.1'), null);
  assert.equal(MIN_NODE_MAJOR, 24);
});

test('a version string that cannot be read is refused, not taken for new enough', () => {
  assert.notEqual(unsupportedNode(''), null);
  assert.notEqual(unsupportedNode('garbage'), null);
});
