import assert from 'node:assert/strict';
import { test } from 'node:test';

import { applyModelEvent, applyProgress, formatStatus, ModelStatus, parseModelMessage } from '../../src/modelStatus';

test('the server\'s log lines about the model are parsed', () => {
  assert.deepEqual(parseModelMessage('r1lsp: R1 model ready: cuda, int8'), { kind: 'ready', device: 'cuda', quantization: 'int8' });
  assert.deepEqual(parseModelMessage('R1 model ready: cpu, none'), { kind: 'ready', device: 'cpu', quantization: 'none' });
  assert.deepEqual(parseModelMessage('r1lsp: R1 model ready: cpu, int8 (w8a8)'), { kind: 'ready', device: 'cpu', quantization: 'int8 (w8a8)' });
  assert.deepEqual(parseModelMessage('r1lsp: R1 model unavailable: no checkpoint at /x'), { kind: 'unavailable', reason: 'no checkpoint at /x' });
  assert.equal(parseModelMessage('r1lsp: settings applied from initializationOptions'), undefined);
});

test('spinner while $/progress runs, model/device/int8/latency once ready', () => {
  let s: ModelStatus = { server: 'running', model: 'r1-tiny' };
  s = applyProgress(s, { kind: 'begin', title: 'r1lsp: loading the R1 model', percentage: 0 });
  assert.match(formatStatus(s).text, /^\$\(sync~spin\) R1 r1-tiny: loading 0%$/);
  s = applyProgress(s, { kind: 'report', message: 'weights', percentage: 60 });
  assert.match(formatStatus(s).text, /loading 60%/);
  assert.match(formatStatus(s).tooltip, /weights/);
  s = applyProgress(s, { kind: 'end', message: 'R1 model ready: cuda, int8' });
  assert.equal(formatStatus(s).text, '$(hubot) R1 r1-tiny · cuda · int8');
  s = { ...s, latencyMs: 41.6, latencyKind: 'ghost text' };
  assert.equal(formatStatus(s).text, '$(hubot) R1 r1-tiny · cuda · int8 · 42 ms');
  assert.match(formatStatus(s).tooltip, /last ghost text: 42 ms/);
});

test('no model: a warning item, and the reason in the tooltip', () => {
  const s = applyModelEvent({ server: 'running', model: 'r1-tiny', device: 'cpu' }, { kind: 'unavailable', reason: 'bad checkpoint' });
  assert.equal(formatStatus(s).text, '$(warning) R1 r1-tiny: no model');
  assert.match(formatStatus(s).tooltip, /bad checkpoint/);
  assert.match(formatStatus({ server: 'failed', model: 'x' }).text, /server not running/);
});
