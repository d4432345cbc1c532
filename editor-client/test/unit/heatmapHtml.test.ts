import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ExpertsPayload, heatmapHtml, heatmapModel, shade } from '../../src/heatmapHtml';

const payload: ExpertsPayload = {
  ready: true,
  labels: { '3': 'loops' },
  units: [
    { range: { start: { line: 2, character: 4 }, end: { line: 6, character: 5 } }, name: 'add', kind: 'method_declaration', level: 'paragraph', tokens: 30,
      shares: [{ expert: 3, share: 0.5, label: 'loops' }, { expert: 1, share: 0.3 }, { expert: 7, share: 0.2 }] },
    { range: { start: { line: 8, character: 4 }, end: { line: 9, character: 5 } }, name: '<script>', kind: 'field_declaration', level: 'paragraph', tokens: 8,
      shares: [{ expert: 1, share: 1.0 }] },
  ],
};

test('grid: one column per expert used, one row per unit, shares in place', () => {
  const m = heatmapModel(payload);
  assert.deepEqual(m.experts, [1, 3, 7]);
  assert.deepEqual(m.rows.map((r) => r.cells), [[0.3, 0.5, 0.2], [1, 0, 0]]);
  assert.equal(m.rows[0].detail, 'method_declaration, lines 3–7, 30 tokens');
  assert.equal(m.labels['3'], 'loops');
});

test('page: strict CSP with a nonce, no external resources, names escaped', () => {
  const html = heatmapHtml({ nonce: 'abc123', cspSource: 'vscode-webview:', fileName: 'A.java', level: 'paragraph', payload });
  assert.match(html, /default-src 'none'; style-src 'nonce-abc123'; script-src 'nonce-abc123'/);
  assert.ok(!/(src|href)="https?:/.test(html));
  assert.ok(!html.includes('<script>'), 'a unit name must not become markup');
  assert.ok(html.includes('&lt;script&gt;'));
  assert.ok(!/ style="/.test(html), 'inline style attributes would be blocked by the CSP');
  assert.match(html, /2 paragraphs × 3 experts/);
  assert.match(html, /<td class="cell s5" title="add: expert 3 50%">50<\/td>/);
  assert.equal(shade(0.04), 0);
  assert.equal(shade(1), 10);
});

test('page: not ready yet / errors are said in words', () => {
  assert.match(heatmapHtml({ nonce: 'n', cspSource: 'x', fileName: 'A.java', level: 'paragraph', payload: { ready: false, units: [], labels: {} } }), /Routing this file/);
  assert.match(heatmapHtml({ nonce: 'n', cspSource: 'x', fileName: 'A.java', level: 'sentence', error: 'server <down>' }), /server &lt;down&gt;/);
});
