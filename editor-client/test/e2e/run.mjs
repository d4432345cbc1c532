#!/usr/bin/env node
// The extension in real VS Code: code-server 4.100.3 (VS Code 1.100.3) + Debian chromium +
// playwright-core, all offline. Steps:
//   1. install code-server once into editor-client/.e2e/code-server (ripgrep from /usr/bin/rg)
//   2. a workspace with a Java and a Python file whose .vscode/settings.json points r1lsp at
//      this repo's interpreter and the shipped checkpoint (model/checkpoints/r1-tiny)
//   3. install the .vsix into a fresh extensions dir, start code-server (own process group)
//   4. open the workspace in chromium with the extension-host suite (test-dist/e2e/suite.js) as
//      extensionTestsPath; at each of the suite's UI checkpoints check the DOM and take a
//      screenshot (test-output/e2e/*.png); read the suite's verdict
// Exit code 0 only when the suite and every UI check passed. Env: R1LSP_PYTHON (interpreter
// with r1lsp + torch), R1LSP_E2E_CHECKPOINT (another checkpoint than the shipped r1-tiny; the
// ghost-text step needs one that proposes `self` at the default gate after `def value(` or a like
// method start in samples/inventory.py, the ghost-member step text after `    inv.`),
// R1LSP_E2E_TIMEOUT_S (whole run, default 900: a first run installs code-server, which took
// 464 s on a loaded 2-core machine).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const started = Date.now();
const here = path.dirname(fileURLToPath(import.meta.url));
const client = path.resolve(here, '../..');
const repo = path.resolve(client, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(client, 'package.json'), 'utf8'));
const vsix = path.join(client, `${pkg.name}-${pkg.version}.vsix`);
const python = process.env.R1LSP_PYTHON || path.join(repo, '.venv/bin/python');
const out = path.join(repo, 'test-output/e2e');
const csDir = path.join(client, '.e2e/code-server');
const codeServer = path.join(csDir, 'node_modules/.bin/code-server');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const deadline = started + Number(process.env.R1LSP_E2E_TIMEOUT_S || 900) * 1000;

const log = (...a) => console.log(`[e2e ${((Date.now() - started) / 1000).toFixed(1)}s]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function die(message) {
  console.error(`e2e: ${message}`);
  process.exit(2);
}

for (const [what, p, fix] of [
  ['the .vsix', vsix, 'make vsix'],
  ['the e2e suite', path.join(client, 'test-dist/e2e/suite.js'), 'cd editor-client && node scripts/build.mjs --tests'],
  ['chromium', chromiumPath, 'apt-get install -y chromium'],
  ['the interpreter', python, 'make install'],
]) {
  if (!fs.existsSync(p)) die(`${what} is missing (${p}): run \`${fix}\``);
}

// 1. code-server, once.
if (!fs.existsSync(codeServer)) {
  log('installing code-server@4.100.3 (once, ~300 MB)');
  const rgCache = path.join(os.tmpdir(), 'vscode-ripgrep-cache-1.15.11');
  fs.mkdirSync(rgCache, { recursive: true });
  execFileSync('tar', ['czf', path.join(rgCache, 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz'), '-C', '/usr/bin', 'rg'], { stdio: 'inherit' });
  fs.mkdirSync(csDir, { recursive: true });
  fs.writeFileSync(path.join(csDir, 'package.json'), JSON.stringify({ name: 'r1lsp-e2e-code-server', private: true }));
  // code-server's postinstall builds VS Code's native modules; npm >= 11 blocks install scripts
  // unless told, and code-server refuses to run its postinstall as root without unsafe-perm.
  const env = { ...process.env, npm_config_unsafe_perm: 'true', npm_config_dangerously_allow_all_scripts: 'true', npm_config_yes: 'true' };
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', 'code-server@4.100.3'], { cwd: csDir, env, stdio: 'inherit' });
  if (r.status !== 0 || !fs.existsSync(codeServer)) die('npm install code-server@4.100.3 failed (see above; needs build-essential pkg-config libkrb5-dev libxkbfile-dev libsecret-1-dev ripgrep)');
}

// 2. checkpoint + workspace.
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'r1lsp-e2e-'));
const checkpoint = path.resolve(process.env.R1LSP_E2E_CHECKPOINT || path.join(repo, 'model/checkpoints/r1-tiny'));
if (!fs.existsSync(path.join(checkpoint, 'tokenizer.json'))) die(`no checkpoint in ${checkpoint}`);
log(`checkpoint ${path.relative(repo, checkpoint) || checkpoint}`);
const ws = path.join(scratch, 'workspace');
fs.mkdirSync(path.join(ws, '.vscode'), { recursive: true });
fs.copyFileSync(path.join(repo, 'tests/editors/Counter.java'), path.join(ws, 'Counter.java'));
fs.copyFileSync(path.join(repo, 'samples/inventory.py'), path.join(ws, 'inventory.py'));
fs.copyFileSync(path.join(repo, 'samples/Inventory.java'), path.join(ws, 'Inventory.java'));
fs.writeFileSync(path.join(ws, '.vscode/settings.json'), JSON.stringify({
  'r1lsp.pythonPath': python,
  'r1lsp.model.path': checkpoint,
  'r1lsp.model.device': 'cpu',
  'r1lsp.diagnostics.debounceMs': 0,
  // No r1lsp.inline.minConfidence: the ghost-text steps see what a user with the default gate
  // sees; the ghost-member step (the model's raw text under the member monitor) switches the
  // gate off for itself.
  'r1lsp.logLevel': 'debug',
}, null, 2));
const userData = path.join(scratch, 'user-data');
const extensions = path.join(scratch, 'extensions');
fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
fs.writeFileSync(path.join(userData, 'User/settings.json'), JSON.stringify({
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'security.workspace.trust.enabled': false,
  'editor.inlineSuggest.enabled': true,
  'editor.quickSuggestions': { other: false, comments: false, strings: false },
  'files.autoSave': 'off',
  'window.commandCenter': false,
  'chat.disableAIFeatures': true,
}, null, 2));
const config = path.join(scratch, 'config.yaml');
fs.writeFileSync(config, 'auth: none\ncert: false\n');
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });

// 3. install the .vsix, start code-server.
log(`installing ${path.basename(vsix)}`);
const csArgs = ['--user-data-dir', userData, '--extensions-dir', extensions, '--config', config];
execFileSync(codeServer, [...csArgs, '--install-extension', vsix], { stdio: 'inherit' });
const installed = fs.readdirSync(extensions).find((d) => d.startsWith(`${pkg.publisher}.${pkg.name}-`));
if (!installed) die(`the .vsix did not install into ${extensions}`);
const extPath = path.join(extensions, installed);

const port = await new Promise((resolve) => {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1', () => {
    const { port } = srv.address();
    srv.close(() => resolve(port));
  });
});
const serverLog = fs.openSync(path.join(out, 'code-server.log'), 'w');
const server = spawn(codeServer, [...csArgs, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry',
  '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override', ws], {
  detached: true, // its own process group: stopped as a whole below
  stdio: ['ignore', serverLog, serverLog],
  // One torch thread for the server (as in the Python tests): on 2 shared cores beside chromium
  // and code-server, two OpenMP threads spin against each other and ghost text can miss the
  // server's 5 s budget. OMP_NUM_THREADS set by the caller wins.
  env: { ...process.env, R1LSP_E2E: '1', OMP_NUM_THREADS: process.env.OMP_NUM_THREADS || '1' },
});
let browser;
let failures = [];
async function cleanup() {
  try { await browser?.close(); } catch { /* already gone */ }
  try { process.kill(-server.pid, 'SIGTERM'); } catch { /* already gone */ }
}
process.on('SIGINT', async () => { await cleanup(); process.exit(130); });

try {
  const base = `http://127.0.0.1:${port}`;
  const up = await (async () => {
    while (Date.now() < deadline) {
      try {
        if ((await fetch(`${base}/healthz`)).ok) return true;
      } catch { /* not yet */ }
      if (server.exitCode !== null) return false;
      await sleep(250);
    }
    return false;
  })();
  if (!up) throw new Error(`code-server did not come up (see ${path.join(out, 'code-server.log')})`);
  log(`code-server up on port ${port}`);

  // 4. chromium + the extension-host suite.
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
  page.on('pageerror', (e) => fs.appendFileSync(path.join(out, 'browser-console.log'), `pageerror: ${e.message}\n`));
  let fatal;
  page.on('console', (m) => {
    fs.appendFileSync(path.join(out, 'browser-console.log'), `${m.type()}: ${m.text()}\n`);
    if (/No extension host found that can launch the test runner|Could not find the test runner/.test(m.text())) fatal = m.text();
  });
  const payload = [
    ['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${port}${extPath}`],
    // Both as remote URIs: a bare path is taken as file:// on the browser side, and then "no
    // extension host can launch the test runner".
    ['extensionTestsPath', `vscode-remote://127.0.0.1:${port}${path.join(client, 'test-dist/e2e/suite.js')}`],
  ];
  const url = `${base}/?folder=${encodeURIComponent(ws)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  await page.goto(url);
  await page.waitForSelector('.monaco-workbench', { timeout: 120_000 });
  log('workbench loaded; the suite runs in the extension host');

  const normalise = (s) => (s || '').replace(/\u00a0/g, ' ');
  // Ghost text on screen: waits until VS Code draws what the provider proposed (`expected`),
  // takes `shot`, presses Tab (the suite then checks the document).
  const ghostText = async (expected, shot) => {
    // Ghost text on the cursor's line is injected text (.ghost-text-decoration spans, one per
    // token) in the editor's view lines; further lines of it are a view zone (.ghost-text).
    // Monaco writes spaces as U+00A0.
    if (!expected?.trim()) throw new Error('the suite handed over no expected ghost text');
    const inline = '.view-lines .ghost-text-decoration, .view-lines .ghost-text-decoration-preview';
    await page.locator(inline).first().waitFor({ state: 'visible', timeout: 30_000 });
    // Self-contained (it runs in the page): the ghost text drawn now, lines right-trimmed.
    const onScreen = (sel) => [Array.from(document.querySelectorAll(sel.inline), (e) => e.textContent).join(''),
      ...Array.from(document.querySelectorAll(sel.zone), (e) => e.textContent)]
      .join('\n').replace(/\u00a0/g, ' ').split('\n').map((l) => l.trimEnd()).join('\n').trimEnd();
    const sel = { inline, zone: '.ghost-text .view-line' };
    const want = expected.split('\n').map((l) => l.trimEnd()).join('\n').trimEnd();
    // Until all of it is drawn (Monaco may draw it in parts).
    await page.waitForFunction(`(${onScreen})(${JSON.stringify(sel)}) === ${JSON.stringify(want)}`, null, { timeout: 15_000 })
      .catch(() => undefined);
    const shown = await page.evaluate(onScreen, sel);
    if (shown !== want) throw new Error(`ghost text on screen ${JSON.stringify(shown)}, the provider proposed ${JSON.stringify(want)}`);
    await page.screenshot({ path: path.join(out, shot) });
    await page.keyboard.press('Tab'); // accept it; the suite checks the document
    return `ghost text on screen ${JSON.stringify(shown)} = the provider's answer; ${shot}; Tab pressed`;
  };
  // UI checks per checkpoint: what a user would see. Each gets what the suite handed over
  // (e.g. the text the provider proposed) and returns a detail string or throws.
  const uiChecks = {
    'status-bar': async () => {
      const item = page.locator('#r1lsp\\.r1lsp\\.r1lsp\\.status, [id$="r1lsp.status"]').first();
      await item.filter({ hasText: /R1 .*cpu/ }).waitFor({ timeout: 10_000 }).catch(() => undefined);
      const text = normalise(await item.innerText({ timeout: 10_000 }));
      if (!/R1 .*cpu/.test(text)) throw new Error(`status bar item says "${text}"`);
      return text.trim();
    },
    completion: async () => {
      const widget = page.locator('.suggest-widget.visible');
      await widget.waitFor({ timeout: 20_000 });
      // The widget says "Loading…" until the server answers (the model scores the candidates).
      await widget.locator('.monaco-list-row .label-name', { hasText: /^total$/ }).first().waitFor({ timeout: 30_000 }).catch(() => undefined);
      const rows = await widget.locator('.monaco-list-row .label-name').allInnerTexts();
      if (!rows.map(normalise).some((r) => r.trim() === 'total')) throw new Error(`suggest widget rows: ${rows.join(', ')}`);
      return `suggest widget shows: ${rows.slice(0, 6).map(normalise).join(', ')}`;
    },
    'ghost-text': async ({ expected }) => ghostText(expected, 'ghost-text.png'),
    'ghost-member': async ({ expected }) => ghostText(expected, 'ghost-member.png'),
    'ghost-line': async ({ expected }) => ghostText(expected, 'ghost-line.png'),
    translate: async () => {
      const tab = page.locator('.tabs-container .tab', { hasText: 'Counter.py' });
      await tab.first().waitFor({ timeout: 15_000 });
      const lines = normalise((await page.locator('.editor-instance .view-lines').first().innerText()).slice(0, 2000));
      if (!/class Counter|def /.test(lines)) throw new Error(`editor shows: ${lines.slice(0, 200)}`);
      return 'Counter.py is open in an editor tab with the translation';
    },
    'expert-hints': async ({ name, top }) => {
      // Inventory.java with defaults: hint marks (Monaco's .squiggly-hint: three faint dots) and
      // no squiggle (error / warning / info) anywhere in the editor; the hover is drawn with
      // the breakdown, the top expert the suite read from the diagnostic first.
      const editor = page.locator('.editor-instance', { hasText: 'class Inventory' }).first();
      await editor.locator('[class*="squiggly-hint"]').first().waitFor({ state: 'attached', timeout: 20_000 });
      const count = (sel) => editor.locator(sel).count();
      const hints = await count('[class*="squiggly-hint"]');
      const squiggles = await count('[class*="squiggly-error"], [class*="squiggly-warning"], [class*="squiggly-info"]');
      if (hints === 0) throw new Error('no hint marks in the editor');
      if (squiggles > 0) throw new Error(`${squiggles} squiggles under the code`);
      const hover = page.locator('.monaco-hover:not(.hidden)').filter({ hasText: 'R1 experts' }).first();
      await hover.waitFor({ state: 'visible', timeout: 20_000 });
      const text = normalise(await hover.innerText());
      if (!/share of code tokens/.test(text) || !/nats\/token/.test(text)) throw new Error(`hover shows: ${text.slice(0, 200)}`);
      if (!text.includes(name)) throw new Error(`hover does not name ${name}: ${text.slice(0, 200)}`);
      const firstRow = text.split('\n').map((l) => l.trim()).find((l) => /^\d+\s/.test(l));
      if (!firstRow?.startsWith(`${top}`)) throw new Error(`hover's first expert row "${firstRow}", expected expert ${top}`);
      return `${hints} hint marks, no squiggles; hover on ${name}: "${text.split('\n')[0].slice(0, 80)}", first row "${firstRow}"`;
    },
    'interpreter-error': async () => {
      const toast = page.locator('.notifications-toasts .notification-toast', { hasText: 'was not found' });
      await toast.first().waitFor({ timeout: 15_000 });
      const text = normalise(await toast.first().locator('.notification-list-item-message').innerText());
      if (!/r1lsp\.pythonPath/.test(text)) throw new Error(`the error does not say what to set: ${text}`);
      const status = normalise(await page.locator('[id$="r1lsp.status"]').first().innerText());
      return `error toast: "${text.slice(0, 90)}…"; status bar: ${status.trim()}`;
    },
    heatmap: async () => {
      const until = Date.now() + 30_000;
      while (Date.now() < until) {
        for (const frame of page.frames()) {
          try {
            const cells = await frame.locator('#heatmap td.cell').count();
            if (cells > 0) {
              const summary = normalise(await frame.locator('#status').innerText());
              return `webview table with ${cells} cells: ${summary.slice(0, 100)}`;
            }
          } catch { /* frame navigated away */ }
        }
        await sleep(500);
      }
      throw new Error(`no heatmap table in any of ${page.frames().length} frames`);
    },
  };

  const markers = path.join(ws, '.r1-e2e');
  const seen = new Set();
  let result;
  let shot = 0;
  while (Date.now() < deadline) {
    if (fatal) throw new Error(`VS Code could not start the suite: ${fatal}`);
    if (fs.existsSync(markers)) {
      for (const f of fs.readdirSync(markers).filter((f) => f.endsWith('.ready')).sort()) {
        const name = f.slice(0, -'.ready'.length);
        if (seen.has(name)) continue;
        seen.add(name);
        let data = {};
        try {
          data = JSON.parse(fs.readFileSync(path.join(markers, f), 'utf8'));
        } catch { /* a bare timestamp */ }
        let detail;
        try {
          detail = uiChecks[name] ? await uiChecks[name](data) : 'no UI check';
          log(`UI ok   ${name}: ${detail}`);
        } catch (e) {
          detail = e.message.split('\n')[0];
          failures.push(`UI ${name}: ${detail}`);
          log(`UI FAIL ${name}: ${detail}`);
        }
        shot += 1;
        await page.screenshot({ path: path.join(out, `${String(shot).padStart(2, '0')}-${name}.png`) });
        fs.writeFileSync(path.join(markers, `${name}.done`), detail);
      }
      if (fs.existsSync(path.join(markers, 'result.json'))) {
        result = JSON.parse(fs.readFileSync(path.join(markers, 'result.json'), 'utf8'));
        break;
      }
    }
    await sleep(200);
  }
  await page.screenshot({ path: path.join(out, `${String(shot + 1).padStart(2, '0')}-final.png`) });
  if (!result) {
    const progress = path.join(markers, 'progress.json');
    throw new Error(`the suite did not finish in time${fs.existsSync(progress) ? `; so far: ${fs.readFileSync(progress, 'utf8')}` : ''}`);
  }
  for (const r of result.results) {
    log(`suite ${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (${(r.ms / 1000).toFixed(1)}s): ${r.detail}`);
    if (!r.ok) failures.push(`suite ${r.name}: ${r.detail}`);
  }
  fs.writeFileSync(path.join(out, 'result.json'), JSON.stringify({ ...result, ui_failures: failures.filter((f) => f.startsWith('UI')), seconds: (Date.now() - started) / 1000 }, null, 2));
} catch (e) {
  failures.push(e.message);
  log(`ERROR ${e.message}`);
} finally {
  await cleanup();
  // The extension's output channel ("R1: Show Log") is a log file of the extension host.
  const logs = path.join(userData, 'logs');
  const found = fs.existsSync(logs) ? fs.readdirSync(logs, { recursive: true }).filter((f) => String(f).endsWith('R1 (r1lsp).log')) : [];
  for (const f of found) fs.copyFileSync(path.join(logs, String(f)), path.join(out, 'r1lsp-output.log'));
}
log(`${failures.length === 0 ? 'PASS' : 'FAIL'} in ${((Date.now() - started) / 1000).toFixed(0)} s; screenshots in ${path.relative(repo, out)}/`);
if (failures.length) {
  for (const f of failures) console.error(`  - ${f}`);
  process.exit(1);
}
fs.rmSync(scratch, { recursive: true, force: true });
