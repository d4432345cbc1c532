import assert from 'node:assert/strict';
import { test } from 'node:test';

import { checkInterpreter, ClientLike, describeInterpreterProblem, InterpreterCheck, ServerController, ServerDeps } from '../../src/server';
import { DEFAULTS, ExtensionSettings } from '../../src/settings';

/** A fake LanguageClient that records what happened to it, in one shared event list. */
class FakeClient implements ClientLike {
  running = false;
  constructor(readonly id: number, private readonly events: string[], readonly settings: ExtensionSettings, private readonly startDelayMs = 0, private readonly failStart = false) {}
  async start(): Promise<void> {
    this.events.push(`start ${this.id}`);
    await new Promise((r) => setTimeout(r, this.startDelayMs));
    if (this.failStart) {
      throw new Error('spawn failed');
    }
    this.running = true;
    this.events.push(`started ${this.id}`);
  }
  async stop(): Promise<void> {
    this.events.push(`stop ${this.id}`);
    await new Promise((r) => setTimeout(r, 5));
    this.running = false;
    this.events.push(`stopped ${this.id}`);
  }
}

function harness(opts: { check?: InterpreterCheck; startDelayMs?: number; failStart?: boolean } = {}) {
  const events: string[] = [];
  const problems: string[] = [];
  const clients: FakeClient[] = [];
  let settings: ExtensionSettings = { ...DEFAULTS, pythonPath: '/venv/bin/python' };
  const checked: string[] = [];
  const deps: ServerDeps<FakeClient> = {
    readSettings: () => settings,
    checkInterpreter: async (python) => {
      checked.push(python);
      return opts.check ?? { ok: true };
    },
    createClient: (s) => {
      const c = new FakeClient(clients.length + 1, events, s, opts.startDelayMs ?? 0, opts.failStart ?? false);
      clients.push(c);
      return c;
    },
    reportProblem: (m) => problems.push(m),
    log: () => undefined,
  };
  const controller = new ServerController(deps);
  return { controller, events, problems, clients, checked, setSettings: (s: ExtensionSettings) => (settings = s) };
}

test('start: checks the interpreter, then starts one client; a second start reuses it', async () => {
  const h = harness();
  const a = await h.controller.start();
  const b = await h.controller.start();
  assert.equal(a, b);
  assert.equal(h.clients.length, 1);
  assert.deepEqual(h.checked, ['/venv/bin/python']);
  assert.equal(h.controller.state, 'running');
});

test('restart stops the old server before the new one starts, with the settings read now', async () => {
  const h = harness();
  await h.controller.start();
  h.setSettings({ ...DEFAULTS, pythonPath: '/other/python' });
  const fresh = await h.controller.restart();
  assert.deepEqual(h.events, ['start 1', 'started 1', 'stop 1', 'stopped 1', 'start 2', 'started 2']);
  assert.equal(fresh, h.clients[1]);
  assert.equal(fresh?.settings.pythonPath, '/other/python');
  assert.deepEqual(h.checked, ['/venv/bin/python', '/other/python']);
  assert.equal(h.clients.filter((c) => c.running).length, 1);
});

test('restarts asked for in a burst (while a start is running) never overlap and end with one server', async () => {
  const h = harness({ startDelayMs: 20 });
  const first = h.controller.start();
  const r1 = h.controller.restart();
  const r2 = h.controller.restart(); // joins r1, which has not begun yet
  const r3 = h.controller.restart();
  assert.equal(r1, r2);
  assert.equal(r2, r3);
  await Promise.all([first, r1]);
  assert.equal(h.clients.length, 2);
  assert.equal(h.clients.filter((c) => c.running).length, 1);
  // Never two servers at once: every start after the first follows the previous one's stop.
  assert.ok(h.events.indexOf('stopped 1') < h.events.indexOf('start 2'), h.events.join(', '));
  // A restart asked for after that one began is a new one.
  await h.controller.restart();
  assert.equal(h.clients.length, 3);
  assert.equal(h.clients.filter((c) => c.running).length, 1);
});

test('an interpreter without torch: no client is created, the user is told what to do, restart retries', async () => {
  const h = harness({ check: { ok: false, reason: 'missing-modules', detail: "No module named 'torch'" } });
  assert.equal(await h.controller.start(), undefined);
  assert.equal(h.clients.length, 0);
  assert.equal(h.controller.state, 'failed');
  assert.equal(h.problems.length, 1);
  assert.match(h.problems[0], /No module named 'torch'/);
  assert.match(h.problems[0], /r1lsp\.pythonPath/);
  await h.controller.restart();
  assert.deepEqual(h.checked.length, 2);
});

test('a server that fails to start is reported and stopped; the controller stays usable', async () => {
  const h = harness({ failStart: true });
  assert.equal(await h.controller.start(), undefined);
  assert.equal(h.controller.state, 'failed');
  assert.match(h.problems[0], /did not start \(spawn failed\)/);
  assert.equal(h.controller.client, undefined);
});

test('stop leaves no server running', async () => {
  const h = harness();
  await h.controller.start();
  await h.controller.stop();
  assert.equal(h.controller.client, undefined);
  assert.equal(h.controller.state, 'stopped');
  assert.ok(h.clients.every((c) => !c.running));
});

test('checkInterpreter tells a missing interpreter from one that lacks a module', async () => {
  const missing = await checkInterpreter('/no/such/python3');
  assert.deepEqual(missing, { ok: false, reason: 'not-found', detail: 'no such file' });
  assert.match(describeInterpreterProblem('/no/such/python3', missing as never), /was not found.*r1lsp\.pythonPath/);
  // `node -c` is not python: it fails, and is reported with its own error line.
  const wrong = await checkInterpreter(process.execPath);
  assert.equal(wrong.ok, false);
});
