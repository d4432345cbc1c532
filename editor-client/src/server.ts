/**
 * The server's lifecycle: check the interpreter, create and start the language client, stop
 * it, restart it. Everything that touches VS Code or vscode-languageclient comes in through
 * `ServerDeps` (client.ts supplies the real ones), so the restart logic is unit tested with a
 * fake client factory (test/unit/server.test.ts).
 */
import { execFile } from 'node:child_process';

import { ExtensionSettings } from './settings';

/** The part of a LanguageClient this module uses. */
export interface ClientLike {
  start(): Promise<void>;
  stop(timeout?: number): Promise<void>;
}

export type InterpreterCheck =
  | { ok: true }
  | { ok: false; reason: 'not-found' | 'missing-modules' | 'failed'; detail: string };

export interface ServerDeps<C extends ClientLike> {
  readSettings(): ExtensionSettings;
  checkInterpreter(python: string): Promise<InterpreterCheck>;
  createClient(settings: ExtensionSettings): C;
  /** Show an error the user can act on (the message already says what to do). */
  reportProblem(message: string): void;
  log(line: string): void;
  /** Called whenever the running client changes (undefined: none is running). */
  onClientChanged?(client: C | undefined): void;
}

export type ServerState = 'stopped' | 'starting' | 'running' | 'failed';

const STOP_TIMEOUT_MS = 5000;

/** One server process at a time; start/restart/stop run one after another, never overlapping. */
export class ServerController<C extends ClientLike> {
  private current: C | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private queuedRestart: Promise<C | undefined> | undefined;
  state: ServerState = 'stopped';

  constructor(private readonly deps: ServerDeps<C>) {}

  get client(): C | undefined {
    return this.current;
  }

  start(): Promise<C | undefined> {
    return this.enqueue(() => (this.current ? Promise.resolve(this.current) : this.launch()));
  }

  /** Stop the running server (if any) and start a fresh one with the settings read now.
   * Restarts asked for while one is still waiting in the queue share it. */
  restart(): Promise<C | undefined> {
    if (this.queuedRestart === undefined) {
      const run = this.enqueue(async () => {
        this.queuedRestart = undefined;
        await this.shutdown();
        return this.launch();
      });
      this.queuedRestart = run;
    }
    return this.queuedRestart;
  }

  stop(): Promise<void> {
    return this.enqueue(() => this.shutdown());
  }

  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op, op);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async launch(): Promise<C | undefined> {
    const settings = this.deps.readSettings();
    this.state = 'starting';
    const check = await this.deps.checkInterpreter(settings.pythonPath);
    if (!check.ok) {
      this.state = 'failed';
      const message = describeInterpreterProblem(settings.pythonPath, check);
      this.deps.log(message);
      this.deps.reportProblem(message);
      return undefined;
    }
    const client = this.deps.createClient(settings);
    this.deps.log(`starting: ${settings.pythonPath} -m r1lsp serve`);
    try {
      await client.start();
    } catch (err) {
      this.state = 'failed';
      const message = `r1lsp: the server did not start (${errorText(err)}). See "R1: Show Log", then run "R1: Restart Server".`;
      this.deps.log(message);
      this.deps.reportProblem(message);
      await client.stop(STOP_TIMEOUT_MS).catch(() => undefined);
      return undefined;
    }
    this.current = client;
    this.state = 'running';
    this.deps.onClientChanged?.(client);
    return client;
  }

  private async shutdown(): Promise<void> {
    const client = this.current;
    this.current = undefined;
    this.state = 'stopped';
    if (client === undefined) {
      return;
    }
    this.deps.onClientChanged?.(undefined);
    try {
      await client.stop(STOP_TIMEOUT_MS);
    } catch (err) {
      this.deps.log(`stopping the server failed: ${errorText(err)}`);
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The error shown when the interpreter cannot run the server: what is wrong and what to do. */
export function describeInterpreterProblem(python: string, check: Exclude<InterpreterCheck, { ok: true }>): string {
  const fix =
    'Set "r1lsp.pythonPath" to a Python that has r1lsp and torch installed (for a checkout of r1lsp: ' +
    '<repo>/.venv/bin/python after `make install`), or install them into this one: `pip install torch` and ' +
    '`pip install -e <repo>`.';
  switch (check.reason) {
    case 'not-found':
      return `r1lsp: the Python interpreter "${python}" was not found (${check.detail}). ${fix}`;
    case 'missing-modules':
      return `r1lsp: "${python}" cannot run the server: ${check.detail}. ${fix}`;
    default:
      return `r1lsp: "${python} -c 'import r1lsp, torch'" failed: ${check.detail}. ${fix}`;
  }
}

/** Run `python -c "import r1lsp, torch"`: the server needs both, and torch cannot be bundled. */
export function checkInterpreter(python: string, timeoutMs = 120_000): Promise<InterpreterCheck> {
  return new Promise((resolve) => {
    execFile(python, ['-c', 'import r1lsp, torch'], { timeout: timeoutMs }, (err, _stdout, stderr) => {
      if (!err) {
        resolve({ ok: true });
        return;
      }
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EACCES') {
        resolve({ ok: false, reason: 'not-found', detail: code === 'ENOENT' ? 'no such file' : 'not executable' });
        return;
      }
      const missing = /No module named '([^']+)'/.exec(stderr);
      if (missing) {
        resolve({ ok: false, reason: 'missing-modules', detail: `No module named '${missing[1]}'` });
        return;
      }
      const last = stderr.trim().split('\n').pop() || err.message;
      resolve({ ok: false, reason: 'failed', detail: last });
    });
  });
}
