import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import {
  classifyChange,
  configurationResponse,
  DEFAULTS,
  didChangeConfigurationPayload,
  modelName,
  readSettings,
  resolveModelPath,
  serverCommand,
  SettingsSource,
  toServerSettings,
} from '../../src/settings';

/** A WorkspaceConfiguration stand-in: dotted keys → values. */
function source(values: Record<string, unknown>): SettingsSource {
  return { get: <T>(key: string) => values[key] as T | undefined };
}

test('nothing set: the defaults, and the server gets its own defaults (model.path null)', () => {
  const s = readSettings(source({}));
  assert.deepEqual(s, DEFAULTS);
  assert.deepEqual(toServerSettings(s), {
    model: { path: null, device: 'auto', quantization: 'int8', maxTokens: 48, threads: 0, cacheMb: 96 },
    features: { completion: true, inlineCompletion: true, translate: true, expertDiagnostics: true },
    diagnostics: { severity: 'hint', sentences: false, mode: 'all', debounceMs: 300 },
    python: { environment: null, analysisBudgetMs: 40 },
    inline: { minConfidence: -1.0, monitor: true, crossFileContext: true, retrieval: true },
    logLevel: 'info',
  });
});

test('every contributed setting reaches the server under the name r1lsp/settings.py reads', () => {
  const s = readSettings(source({
    pythonPath: '/opt/venv/bin/python',
    'model.path': '/ckpt/r1-tiny',
    'model.device': 'cuda',
    'model.quantization': 'none',
    'model.maxTokens': 96,
    'model.threads': 4,
    'model.cacheMb': 200,
    'features.completion': false,
    'features.inlineCompletion': false,
    'features.translate': false,
    'features.expertDiagnostics': false,
    'diagnostics.severity': 'information',
    'diagnostics.sentences': true,
    'diagnostics.mode': 'unusual',
    'diagnostics.debounceMs': 50,
    'python.environment': '/opt/other/bin/python',
    'python.analysisBudgetMs': 250,
    'inline.minConfidence': -2.5,
    'inline.monitor': false,
    'inline.crossFileContext': false,
    'inline.retrieval': false,
    logLevel: 'debug',
  }));
  const server = toServerSettings(s);
  assert.deepEqual(server, {
    model: { path: '/ckpt/r1-tiny', device: 'cuda', quantization: 'none', maxTokens: 96, threads: 4, cacheMb: 200 },
    features: { completion: false, inlineCompletion: false, translate: false, expertDiagnostics: false },
    diagnostics: { severity: 'information', sentences: true, mode: 'unusual', debounceMs: 50 },
    python: { environment: '/opt/other/bin/python', analysisBudgetMs: 250 },
    inline: { minConfidence: -2.5, monitor: false, crossFileContext: false, retrieval: false },
    logLevel: 'debug',
  });
  assert.ok(!('pythonPath' in server), 'pythonPath is the client\'s, the server would report it as unknown');
  assert.deepEqual(serverCommand(s), { command: '/opt/venv/bin/python', args: ['-m', 'r1lsp', 'serve'] });
});

test('the defaults are package.json\'s (the settings UI shows them; tests/test_settings.py checks them against the server\'s)', () => {
  // test-dist/unit/ -> editor-client/package.json
  const pkg = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8'));
  const declared: Record<string, { default: unknown }> = pkg.contributes.configuration.properties;
  const leaves = (o: object, prefix = ''): [string, unknown][] => Object.entries(o).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' ? leaves(v, `${prefix}${k}.`) : [[`${prefix}${k}`, v] as [string, unknown]]);
  const ours = new Map(leaves(DEFAULTS).map(([k, v]) => [`r1lsp.${k}`, v]));
  assert.deepEqual([...ours.keys()].sort(), Object.keys(declared).sort(), 'every contributed setting is read and forwarded');
  for (const [key, value] of ours) {
    assert.equal(value, declared[key].default, key);
  }
});

test('mistyped values fall back to the defaults; a blank pythonPath means python3', () => {
  const s = readSettings(source({ pythonPath: '  ', 'model.device': 'tpu', 'model.maxTokens': '12', 'features.completion': 'yes', logLevel: 7, 'inline.minConfidence': 'low' }));
  assert.equal(s.inline.minConfidence, DEFAULTS.inline.minConfidence);
  assert.equal(s.pythonPath, 'python3');
  assert.equal(s.model.device, 'auto');
  assert.equal(s.model.maxTokens, 48);
  assert.equal(s.features.completion, true);
  assert.equal(s.logLevel, 'info');
});

test('model.path: empty is the shipped model; ~, ${workspaceFolder} and relative paths are expanded', () => {
  const ctx = { workspaceFolder: '/ws/proj', home: '/home/ann' };
  assert.equal(resolveModelPath('', ctx), null);
  assert.equal(resolveModelPath('   ', ctx), null);
  assert.equal(resolveModelPath('~/ckpt', ctx), '/home/ann/ckpt');
  assert.equal(resolveModelPath('${workspaceFolder}/model/r1', ctx), '/ws/proj/model/r1');
  assert.equal(resolveModelPath('./model/r1', ctx), '/ws/proj/model/r1');
  assert.equal(resolveModelPath('model/r1', ctx), '/ws/proj/model/r1');
  assert.equal(resolveModelPath('/abs/r1', ctx), '/abs/r1');
  assert.equal(resolveModelPath('C:\\ckpt', ctx), 'C:\\ckpt');
  assert.equal(resolveModelPath('model/r1', {}), 'model/r1');
});

test('workspace/configuration: our section (or a sub-section) gets the mapped settings, others null', () => {
  const server = toServerSettings(DEFAULTS);
  assert.deepEqual(configurationResponse(['r1lsp', 'r1lsp.model', 'r1lsp.model.device', 'python', undefined], server), [
    server,
    server.model,
    'auto',
    null,
    server,
  ]);
  assert.deepEqual(configurationResponse(['r1lsp.nope.deeper'], server), [null]);
});

test('didChangeConfiguration carries the section wrapped, as merge_settings accepts it', () => {
  const server = toServerSettings(DEFAULTS);
  assert.deepEqual(didChangeConfigurationPayload(server), { settings: { r1lsp: server } });
});

test('a new interpreter restarts the server; other r1lsp settings are sent live; others ignored', () => {
  const affects = (...changed: string[]) => (section: string) => changed.some((c) => c === section || c.startsWith(section + '.'));
  assert.equal(classifyChange(affects('r1lsp.pythonPath')), 'restart');
  assert.equal(classifyChange(affects('r1lsp.model.device')), 'notify');
  assert.equal(classifyChange(affects('r1lsp.diagnostics.severity')), 'notify');
  assert.equal(classifyChange(affects('editor.fontSize')), 'none');
});

test('the status bar names the model by its checkpoint folder', () => {
  assert.equal(modelName(DEFAULTS), 'r1-tiny');
  assert.equal(modelName({ ...DEFAULTS, model: { ...DEFAULTS.model, path: '/x/checkpoints/r1-small/' } }), 'r1-small');
});
