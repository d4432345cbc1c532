/**
 * Builds the vscode-languageclient `LanguageClient` for r1lsp: the command line, the document
 * selector, settings in (initializationOptions, workspace/configuration), and the hooks the
 * status bar listens to (log lines, $/progress, request latency).
 */
import * as os from 'node:os';
import * as vscode from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions } from 'vscode-languageclient/node';

import { configurationResponse, ExtensionSettings, PathContext, SECTION, serverCommand, ServerSettings, toServerSettings } from './settings';

export interface ClientHooks {
  onLogMessage(message: string): void;
  onProgress(value: { kind: 'begin' | 'report' | 'end'; message?: string; percentage?: number; title?: string }): void;
  onLatency(kind: 'completion' | 'ghost text', ms: number): void;
}

/** Counts of the requests answered through this client (read by the e2e suite via the API). */
export interface RequestStats {
  completions: number;
  inlineAnswers: number;
  inlinePending: number; // ghost-text requests sent and not answered yet
  lastInlineItems: number;
  lastInline?: InlineAnswer; // the latest ghost-text answer: where it was asked, what came back
  progressBegins: number; // $/progress "begin" notifications seen (model loads)
}

export interface InlineAnswer {
  seq: number; // inlineAnswers when it came back
  uri: string;
  version: number;
  line: number;
  character: number;
  texts: string[]; // the items' insert texts, in order (VS Code shows the first)
}

export const requestStats: RequestStats = { completions: 0, inlineAnswers: 0, inlinePending: 0, lastInlineItems: 0, progressBegins: 0 };

function inlineItems(result: unknown): unknown[] {
  if (Array.isArray(result)) {
    return result;
  }
  const items = (result as { items?: unknown[] } | null | undefined)?.items;
  return Array.isArray(items) ? items : [];
}

function insertText(item: unknown): string {
  const text = (item as { insertText?: string | { value: string } } | null | undefined)?.insertText;
  return typeof text === 'string' ? text : text?.value ?? '';
}

export function pathContext(): PathContext {
  const folder = vscode.workspace.workspaceFolders?.[0];
  return { workspaceFolder: folder?.uri.scheme === 'file' ? folder.uri.fsPath : undefined, home: os.homedir() };
}

/** The mapped settings as they are now (read fresh on every call). */
export function currentServerSettings(read: () => ExtensionSettings): ServerSettings {
  return toServerSettings(read(), pathContext());
}

/** Passes everything to the log channel, and tells `listen` about each info line first (the
 * client logs the server's window/logMessage Info lines through `info`). */
function listeningChannel(channel: vscode.LogOutputChannel, listen: (message: string) => void): vscode.LogOutputChannel {
  return new Proxy(channel, {
    get(target, prop, receiver) {
      if (prop === 'info' || prop === 'appendLine') {
        return (message: string, ...rest: unknown[]) => {
          try {
            listen(message);
          } finally {
            (target[prop] as (m: string, ...r: unknown[]) => void)(message, ...rest);
          }
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function timed<T>(work: Thenable<T> | T, done: (ms: number) => void): Promise<T> {
  const started = performance.now();
  const result = await work;
  done(performance.now() - started);
  return result;
}

export function createLanguageClient(
  settings: ExtensionSettings,
  read: () => ExtensionSettings,
  channel: vscode.LogOutputChannel,
  hooks: ClientHooks,
): LanguageClient {
  const { command, args } = serverCommand(settings);
  // No `transport`: with TransportKind.stdio the client would append `--stdio`, which
  // `r1lsp serve` rejects; a plain Executable talks over stdin/stdout anyway.
  const serverOptions: ServerOptions = { run: { command, args }, debug: { command, args } };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'java' },
      { scheme: 'file', language: 'python' },
      { scheme: 'untitled', language: 'java' },
      { scheme: 'untitled', language: 'python' },
    ],
    initializationOptions: currentServerSettings(read),
    outputChannel: listeningChannel(channel, (message) => hooks.onLogMessage(message)),
    middleware: {
      workspace: {
        // The server pulls its section: answer with the mapped settings, not VS Code's raw ones.
        configuration: (params, token, next) => {
          const sections = params.items.map((item) => item.section);
          if (sections.every((s) => s === undefined || s === SECTION || s.startsWith(SECTION + '.'))) {
            return configurationResponse(sections, currentServerSettings(read));
          }
          return next(params, token);
        },
      },
      handleWorkDoneProgress: (token, params, next) => {
        if (params.kind === 'begin') {
          requestStats.progressBegins += 1;
        }
        hooks.onProgress(params);
        next(token, params);
      },
      provideCompletionItem: async (document, position, context, token, next) => {
        const result = await timed(next(document, position, context, token), (ms) => hooks.onLatency('completion', ms));
        requestStats.completions += 1;
        return result;
      },
      provideInlineCompletionItems: async (document, position, context, token, next) => {
        requestStats.inlinePending += 1;
        let result: Awaited<ReturnType<typeof next>>;
        try {
          result = await timed(next(document, position, context, token), (ms) => hooks.onLatency('ghost text', ms));
        } finally {
          requestStats.inlinePending -= 1;
        }
        const items = inlineItems(result);
        requestStats.inlineAnswers += 1;
        requestStats.lastInlineItems = items.length;
        if (token.isCancellationRequested) {
          return result; // VS Code asked again meanwhile: this (empty) answer is not what it shows
        }
        requestStats.lastInline = {
          seq: requestStats.inlineAnswers,
          uri: document.uri.toString(),
          version: document.version,
          line: position.line,
          character: position.character,
          texts: items.map(insertText),
        };
        return result;
      },
    },
  };
  return new LanguageClient('r1lsp', 'R1 (r1lsp)', serverOptions, clientOptions);
}
