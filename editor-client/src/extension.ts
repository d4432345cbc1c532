/** Activation and deactivation only: wires settings, the server, the status bar, the heatmap
 * and the commands together. */
import * as vscode from 'vscode';
import { DidChangeConfigurationNotification, LanguageClient } from 'vscode-languageclient/node';

import { createLanguageClient, currentServerSettings, RequestStats, requestStats } from './client';
import { ExpertHeatmap } from './heatmap';
import { checkInterpreter, ServerController } from './server';
import { classifyChange, didChangeConfigurationPayload, modelName, readSettings, SECTION } from './settings';
import { R1StatusBar } from './statusBar';
import { translateActiveFile } from './translate';

let controller: ServerController<LanguageClient> | undefined;

export interface R1Api {
  controller: ServerController<LanguageClient>;
  statusBar: R1StatusBar;
  heatmap: ExpertHeatmap;
  requests: RequestStats;
}

export function activate(context: vscode.ExtensionContext): R1Api {
  const read = () => readSettings(vscode.workspace.getConfiguration(SECTION));
  const channel = vscode.window.createOutputChannel('R1 (r1lsp)', { log: true });
  const statusBar = new R1StatusBar(modelName(read()));
  const server = new ServerController<LanguageClient>({
    readSettings: read,
    checkInterpreter: (python) => checkInterpreter(python),
    createClient: (settings) => createLanguageClient(settings, read, channel, statusBar),
    reportProblem: (message) => {
      statusBar.setServer('failed');
      void vscode.window.showErrorMessage(message, 'Open Settings', 'Show Log', 'Retry').then((choice) => {
        if (choice === 'Open Settings') {
          void vscode.commands.executeCommand('workbench.action.openSettings', 'r1lsp.pythonPath');
        } else if (choice === 'Show Log') {
          channel.show();
        } else if (choice === 'Retry') {
          void vscode.commands.executeCommand('r1lsp.restartServer');
        }
      });
    },
    log: (line) => channel.info(line),
    onClientChanged: (client) => statusBar.setServer(client ? 'running' : 'stopped', modelName(read())),
  });
  controller = server;
  const heatmap = new ExpertHeatmap(() => server.client);

  context.subscriptions.push(
    channel,
    statusBar,
    heatmap,
    vscode.commands.registerCommand('r1lsp.translate', () => translateActiveFile()),
    vscode.commands.registerCommand('r1lsp.showHeatmap', () => heatmap.show()),
    vscode.commands.registerCommand('r1lsp.restartServer', async () => {
      statusBar.setServer('starting');
      await server.restart();
    }),
    vscode.commands.registerCommand('r1lsp.showLog', () => channel.show()),
    vscode.workspace.onDidChangeConfiguration((event) => {
      const change = classifyChange((section) => event.affectsConfiguration(section));
      statusBar.setModelName(modelName(read()));
      if (change === 'restart') {
        statusBar.setServer('starting');
        void server.restart();
      } else if (change === 'notify' && server.client?.isRunning()) {
        void server.client.sendNotification(DidChangeConfigurationNotification.type, didChangeConfigurationPayload(currentServerSettings(read)));
      }
    }),
  );

  statusBar.setServer('starting');
  void server.start();
  return { controller: server, statusBar, heatmap, requests: requestStats };
}

export async function deactivate(): Promise<void> {
  await controller?.stop();
  controller = undefined;
}
