/**
 * Settings: what the user set under `r1lsp.*` in VS Code, and the JSON the server reads
 * (`initializationOptions`, the `r1lsp` section of `workspace/configuration`, and
 * `workspace/didChangeConfiguration`). Pure functions: no `vscode` import, so they are unit
 * tested without VS Code (test/unit/settings.test.ts).
 */

/** The configuration section, in VS Code and on the server. */
export const SECTION = 'r1lsp';

/** Settings that belong to the extension, not to the server (changing one restarts it). */
export const CLIENT_ONLY_KEYS = ['pythonPath'] as const;

export type Device = 'auto' | 'cpu' | 'cuda';
export type Quantization = 'int8' | 'none';
export type Severity = 'hint' | 'information';
export type DiagnosticsMode = 'all' | 'unusual';
export type LogLevel = 'error' | 'warning' | 'info' | 'debug';

/** The extension's settings as the user sees them (defaults as in package.json, which has the
 * server's: tests/test_settings.py and test/unit/settings.test.ts check both). */
export interface ExtensionSettings {
  pythonPath: string;
  model: { path: string; device: Device; quantization: Quantization; maxTokens: number; threads: number; cacheMb: number };
  features: { completion: boolean; inlineCompletion: boolean; translate: boolean; expertDiagnostics: boolean };
  diagnostics: { severity: Severity; sentences: boolean; mode: DiagnosticsMode; debounceMs: number };
  python: { environment: string; analysisBudgetMs: number };
  inline: { minConfidence: number; monitor: boolean; crossFileContext: boolean; retrieval: boolean };
  logLevel: LogLevel;
}

/** The JSON the server merges (r1lsp/settings.py: camelCase keys, `model.path` null = shipped). */
export interface ServerSettings {
  model: { path: string | null; device: Device; quantization: Quantization; maxTokens: number; threads: number; cacheMb: number };
  features: { completion: boolean; inlineCompletion: boolean; translate: boolean; expertDiagnostics: boolean };
  diagnostics: { severity: Severity; sentences: boolean; mode: DiagnosticsMode; debounceMs: number };
  python: { environment: string | null; analysisBudgetMs: number };
  inline: { minConfidence: number; monitor: boolean; crossFileContext: boolean; retrieval: boolean };
  logLevel: LogLevel;
}

export const DEFAULTS: ExtensionSettings = {
  pythonPath: 'python3',
  model: { path: '', device: 'auto', quantization: 'int8', maxTokens: 48, threads: 0, cacheMb: 96 },
  features: { completion: true, inlineCompletion: true, translate: true, expertDiagnostics: true },
  diagnostics: { severity: 'hint', sentences: false, mode: 'all', debounceMs: 300 },
  python: { environment: '', analysisBudgetMs: 40 },
  inline: { minConfidence: -1.0, monitor: true, crossFileContext: true, retrieval: true },
  logLevel: 'info',
};

/** Reads one dotted key (e.g. "model.path"); VS Code's WorkspaceConfiguration fits this shape. */
export interface SettingsSource {
  get<T>(key: string): T | undefined;
}

function pick<T>(source: SettingsSource, key: string, fallback: T, valid: (v: unknown) => boolean): T {
  const value = source.get<unknown>(key);
  return value !== undefined && value !== null && valid(value) ? (value as T) : fallback;
}

const isString = (v: unknown) => typeof v === 'string';
const isBool = (v: unknown) => typeof v === 'boolean';
const isInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v);
const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const oneOf = (...values: string[]) => (v: unknown) => typeof v === 'string' && values.includes(v);

/** The user's settings; a missing or mistyped value falls back to the default. Range checks
 * are left to the server, which reports a bad value and keeps the previous one. */
export function readSettings(source: SettingsSource): ExtensionSettings {
  const d = DEFAULTS;
  return {
    pythonPath: pick(source, 'pythonPath', d.pythonPath, (v) => isString(v) && (v as string).trim() !== '').trim(),
    model: {
      path: pick(source, 'model.path', d.model.path, isString),
      device: pick(source, 'model.device', d.model.device, oneOf('auto', 'cpu', 'cuda')),
      quantization: pick(source, 'model.quantization', d.model.quantization, oneOf('int8', 'none')),
      maxTokens: pick(source, 'model.maxTokens', d.model.maxTokens, isInt),
      threads: pick(source, 'model.threads', d.model.threads, isInt),
      cacheMb: pick(source, 'model.cacheMb', d.model.cacheMb, isInt),
    },
    features: {
      completion: pick(source, 'features.completion', d.features.completion, isBool),
      inlineCompletion: pick(source, 'features.inlineCompletion', d.features.inlineCompletion, isBool),
      translate: pick(source, 'features.translate', d.features.translate, isBool),
      expertDiagnostics: pick(source, 'features.expertDiagnostics', d.features.expertDiagnostics, isBool),
    },
    diagnostics: {
      severity: pick(source, 'diagnostics.severity', d.diagnostics.severity, oneOf('hint', 'information')),
      sentences: pick(source, 'diagnostics.sentences', d.diagnostics.sentences, isBool),
      mode: pick(source, 'diagnostics.mode', d.diagnostics.mode, oneOf('all', 'unusual')),
      debounceMs: pick(source, 'diagnostics.debounceMs', d.diagnostics.debounceMs, isInt),
    },
    python: {
      environment: pick(source, 'python.environment', d.python.environment, isString),
      analysisBudgetMs: pick(source, 'python.analysisBudgetMs', d.python.analysisBudgetMs, isInt),
    },
    inline: {
      minConfidence: pick(source, 'inline.minConfidence', d.inline.minConfidence, isNumber),
      monitor: pick(source, 'inline.monitor', d.inline.monitor, isBool),
      crossFileContext: pick(source, 'inline.crossFileContext', d.inline.crossFileContext, isBool),
      retrieval: pick(source, 'inline.retrieval', d.inline.retrieval, isBool),
    },
    logLevel: pick(source, 'logLevel', d.logLevel, oneOf('error', 'warning', 'info', 'debug')),
  };
}

export interface PathContext {
  workspaceFolder?: string; // absolute path of the first workspace folder
  home?: string;
}

/** A checkpoint path as the server should see it: `~` and `${workspaceFolder}` expanded, a
 * relative path made absolute against the workspace folder, empty = null (the shipped model). */
export function resolveModelPath(raw: string, ctx: PathContext): string | null {
  let p = raw.trim();
  if (p === '') {
    return null;
  }
  if (ctx.workspaceFolder !== undefined) {
    p = p.split('${workspaceFolder}').join(ctx.workspaceFolder);
  }
  if (ctx.home !== undefined && (p === '~' || p.startsWith('~/'))) {
    p = ctx.home + p.slice(1);
  }
  if (!p.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(p) && ctx.workspaceFolder !== undefined) {
    p = ctx.workspaceFolder.replace(/[\\/]+$/, '') + '/' + p.replace(/^\.\//, '');
  }
  return p;
}

/** The server's view of the settings (what goes into initializationOptions and the
 * `r1lsp` configuration section): everything except the client-only keys. */
export function toServerSettings(s: ExtensionSettings, ctx: PathContext = {}): ServerSettings {
  return {
    model: {
      path: resolveModelPath(s.model.path, ctx),
      device: s.model.device,
      quantization: s.model.quantization,
      maxTokens: s.model.maxTokens,
      threads: s.model.threads,
      cacheMb: s.model.cacheMb,
    },
    features: { ...s.features },
    diagnostics: { ...s.diagnostics },
    // empty = the server's own interpreter (null on the server)
    python: {
      environment: s.python.environment.trim() === '' ? null : s.python.environment.trim(),
      analysisBudgetMs: s.python.analysisBudgetMs,
    },
    inline: { ...s.inline },
    logLevel: s.logLevel,
  };
}

/** The `workspace/didChangeConfiguration` payload (the server accepts the section wrapped). */
export function didChangeConfigurationPayload(s: ServerSettings): { settings: { [SECTION]: ServerSettings } } {
  return { settings: { [SECTION]: s } };
}

/** Answers to a `workspace/configuration` request: the mapped settings for our section (or a
 * sub-section of it, e.g. "r1lsp.model"), `null` for sections that are not ours. */
export function configurationResponse(sections: (string | undefined)[], s: ServerSettings): unknown[] {
  return sections.map((section) => {
    if (section === undefined || section === SECTION) {
      return s;
    }
    if (section.startsWith(SECTION + '.')) {
      let value: unknown = s;
      for (const part of section.slice(SECTION.length + 1).split('.')) {
        value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
      }
      return value ?? null;
    }
    return null;
  });
}

/** What a configuration change means for the running server. */
export type SettingsChange = 'restart' | 'notify' | 'none';

/** Decide from `affectsConfiguration` what to do: a new interpreter needs a new process; any
 * other r1lsp setting is sent live with didChangeConfiguration. */
export function classifyChange(affects: (section: string) => boolean): SettingsChange {
  if (CLIENT_ONLY_KEYS.some((key) => affects(`${SECTION}.${key}`))) {
    return 'restart';
  }
  return affects(SECTION) ? 'notify' : 'none';
}

/** The command line that starts the server under the user's interpreter. */
export function serverCommand(s: ExtensionSettings): { command: string; args: string[] } {
  return { command: s.pythonPath, args: ['-m', 'r1lsp', 'serve'] };
}

/** A short name for the model in the status bar: the checkpoint folder's name. */
export function modelName(s: ExtensionSettings): string {
  const p = s.model.path.trim().replace(/[\\/]+$/, '');
  if (p === '') {
    return 'r1-tiny';
  }
  const parts = p.split(/[\\/]/);
  return parts[parts.length - 1] || p;
}
