/** The status bar item: model, device, quantization, last latency; a spinner while the model loads. */
import * as vscode from 'vscode';

import { applyModelEvent, applyProgress, formatStatus, ModelStatus, parseModelMessage } from './modelStatus';

export class R1StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private status: ModelStatus;

  constructor(model: string) {
    this.item = vscode.window.createStatusBarItem('r1lsp.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'R1 model';
    this.item.command = 'r1lsp.showLog';
    this.status = { server: 'stopped', model };
    this.render();
    this.item.show();
  }

  /** Current status (the e2e suite reads it through the extension's API). */
  get current(): ModelStatus {
    return this.status;
  }

  get text(): string {
    return this.item.text;
  }

  setServer(server: ModelStatus['server'], model?: string): void {
    const reset = server !== 'running' ? { device: undefined, quantization: undefined, loading: undefined } : {};
    this.update({ ...this.status, ...reset, server, model: model ?? this.status.model });
  }

  /** Every log line the server sends: the "R1 model ready/unavailable" ones update the item. */
  onLogMessage(message: string): void {
    const event = parseModelMessage(message);
    if (event) {
      this.update(applyModelEvent(this.status, event));
    }
  }

  setModelName(model: string): void {
    if (model !== this.status.model) {
      this.update({ ...this.status, model });
    }
  }

  onProgress(value: { kind: 'begin' | 'report' | 'end'; message?: string; percentage?: number; title?: string }): void {
    this.update(applyProgress(this.status, value));
  }

  onLatency(kind: 'completion' | 'ghost text', ms: number): void {
    this.update({ ...this.status, latencyMs: ms, latencyKind: kind });
  }

  private update(next: ModelStatus): void {
    this.status = next;
    this.render();
  }

  private render(): void {
    const { text, tooltip } = formatStatus(this.status);
    this.item.text = text;
    this.item.tooltip = tooltip;
    this.item.command = this.status.server === 'failed' || this.status.server === 'stopped' ? 'r1lsp.restartServer' : 'r1lsp.showLog';
  }

  dispose(): void {
    this.item.dispose();
  }
}
