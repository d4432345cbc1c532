/** "R1: Translate Java → Python": runs the server's code action for the selection (or the
 * whole file) and opens the .py file it creates. */
import * as vscode from 'vscode';

export const TRANSLATE_TITLE = 'Translate Java → Python';

/** Which of the server's offers the command runs: the selection's, else the whole file's. */
export function chooseOffer<T extends { title: string }>(actions: T[], hasSelection: boolean): T | undefined {
  const ours = actions.filter((a) => a.title.startsWith(TRANSLATE_TITLE));
  const wanted = hasSelection ? `${TRANSLATE_TITLE}: selection` : `${TRANSLATE_TITLE}: whole file`;
  return ours.find((a) => a.title === wanted) ?? ours[0];
}

export async function translateActiveFile(): Promise<vscode.Uri | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.languageId !== 'java') {
    void vscode.window.showInformationMessage('R1: open a Java file to translate it to Python.');
    return undefined;
  }
  const { document, selection } = editor;
  const range = selection.isEmpty ? new vscode.Range(selection.active, selection.active) : new vscode.Range(selection.start, selection.end);
  // The 4th argument asks VS Code to resolve the actions: the server fills in the edit then.
  const actions =
    (await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', document.uri, range, vscode.CodeActionKind.RefactorRewrite.value, 5)) ?? [];
  const action = chooseOffer(actions, !selection.isEmpty);
  if (!action) {
    void vscode.window.showWarningMessage('R1: the server offered no translation here (is r1lsp.features.translate on and the server running?).');
    return undefined;
  }
  let created: vscode.Uri | undefined;
  if (action.edit) {
    created = action.edit.entries().map(([uri]) => uri).find((uri) => uri.path.endsWith('.py'));
    const applied = await vscode.workspace.applyEdit(action.edit);
    if (!applied) {
      void vscode.window.showErrorMessage(`R1: the translation could not be applied${created ? ` (${created.fsPath} exists?)` : ''}.`);
      return undefined;
    }
  }
  if (action.command) {
    const result = await vscode.commands.executeCommand<{ path?: string }>(action.command.command, ...(action.command.arguments ?? []));
    if (result?.path) {
      created = vscode.Uri.file(result.path);
    }
  }
  if (created) {
    const doc = await vscode.workspace.openTextDocument(created);
    if (doc.isDirty) {
      await doc.save(); // the edit created the file and filled its buffer: put the text on disk too
    }
    await vscode.window.showTextDocument(doc, { preview: false });
  }
  return created;
}
