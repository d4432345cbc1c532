/** "R1: Show Expert Heatmap": a webview of the `r1lsp/experts` data for the active file. */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';

import { ExpertsPayload, heatmapHtml } from './heatmapHtml';

export const EXPERTS_REQUEST = 'r1lsp/experts';

export class ExpertHeatmap implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private document: vscode.TextDocument | undefined;
  private level: 'paragraph' | 'sentence' = 'paragraph';
  private readonly disposables: vscode.Disposable[] = [];
  private refreshTimer: NodeJS.Timeout | undefined;
  /** The last data drawn (read by the e2e suite through the extension's API). */
  lastPayload: ExpertsPayload | undefined;

  constructor(private readonly getClient: () => LanguageClient | undefined) {
    this.disposables.push(
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (this.panel && editor && isSupported(editor.document)) {
          this.document = editor.document;
          this.scheduleRefresh(0);
        }
      }),
      // Expert diagnostics are published when routing is done: the moment to redraw.
      vscode.languages.onDidChangeDiagnostics((event) => {
        if (this.panel && this.document && event.uris.some((u) => u.toString() === this.document?.uri.toString())) {
          this.scheduleRefresh(100);
        }
      }),
    );
  }

  show(): void {
    const editor = vscode.window.activeTextEditor;
    if (editor && isSupported(editor.document)) {
      this.document = editor.document;
    }
    if (!this.document) {
      void vscode.window.showInformationMessage('R1: open a Java or Python file to see its experts.');
      return;
    }
    if (this.panel) {
      this.panel.reveal(vscode.ViewColumn.Beside, true);
    } else {
      this.panel = vscode.window.createWebviewPanel('r1lsp.heatmap', 'R1 experts', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
        enableScripts: true,
        localResourceRoots: [],
      });
      this.panel.onDidDispose(() => {
        this.panel = undefined;
      });
      this.panel.webview.onDidReceiveMessage((message) => this.onMessage(message));
    }
    void this.refresh();
  }

  private onMessage(message: { type: string; level?: 'paragraph' | 'sentence'; line?: number }): void {
    if (message.type === 'level' && message.level) {
      this.level = message.level;
      void this.refresh();
    } else if (message.type === 'refresh') {
      void this.refresh();
    } else if (message.type === 'reveal' && this.document && typeof message.line === 'number') {
      const position = new vscode.Position(message.line, 0);
      void vscode.window.showTextDocument(this.document, { viewColumn: vscode.ViewColumn.One, selection: new vscode.Range(position, position) });
    }
  }

  private scheduleRefresh(delayMs: number): void {
    if (this.refreshTimer) {
      clearTimeout(this.refreshTimer);
    }
    this.refreshTimer = setTimeout(() => void this.refresh(), delayMs);
  }

  async refresh(): Promise<void> {
    const panel = this.panel;
    const document = this.document;
    if (!panel || !document) {
      return;
    }
    const fileName = path.basename(document.uri.fsPath || document.uri.path);
    panel.title = `R1 experts: ${fileName}`;
    const client = this.getClient();
    let payload: ExpertsPayload | undefined;
    let error: string | undefined;
    if (!client || !client.isRunning()) {
      error = 'The r1lsp server is not running (R1: Restart Server, R1: Show Log).';
    } else {
      try {
        payload = await client.sendRequest<ExpertsPayload>(EXPERTS_REQUEST, {
          textDocument: { uri: client.code2ProtocolConverter.asUri(document.uri) },
          level: this.level,
        });
      } catch (err) {
        error = `r1lsp/experts failed: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    if (payload) {
      this.lastPayload = payload;
    }
    const nonce = randomBytes(16).toString('base64');
    panel.webview.html = heatmapHtml({ nonce, cspSource: panel.webview.cspSource, fileName, level: this.level, payload, error });
  }

  dispose(): void {
    if (this.refreshTimer) {
      clearTimeout(this.refreshTimer);
    }
    this.panel?.dispose();
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}

function isSupported(document: vscode.TextDocument): boolean {
  return document.languageId === 'java' || document.languageId === 'python';
}
