/**
 * The heatmap page: units × experts, each cell shaded by the expert's share of the unit's
 * tokens. Built as a string (pure, unit tested); no external resources, inline style and
 * script allowed only by nonce (the page's CSP).
 */

export interface ExpertShare {
  expert: number;
  share: number;
  label?: string | null;
}

export interface ExpertUnit {
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  name?: string | null;
  kind: string;
  level: string;
  tokens: number;
  shares: ExpertShare[];
}

/** The `r1lsp/experts` response. */
export interface ExpertsPayload {
  uri?: string;
  version?: number;
  ready: boolean;
  units: ExpertUnit[];
  labels: Record<string, string>;
}

export interface HeatmapModel {
  experts: number[]; // column order
  rows: { title: string; detail: string; line: number; cells: number[] }[]; // share per column
  labels: Record<string, string>;
}

/** Columns: every expert that any unit used, in id order; a row per unit. */
export function heatmapModel(payload: ExpertsPayload): HeatmapModel {
  const experts = [...new Set(payload.units.flatMap((u) => u.shares.map((s) => s.expert)))].sort((a, b) => a - b);
  const labels: Record<string, string> = { ...payload.labels };
  for (const unit of payload.units) {
    for (const s of unit.shares) {
      if (s.label) {
        labels[String(s.expert)] = s.label;
      }
    }
  }
  const rows = payload.units.map((unit) => {
    const byExpert = new Map(unit.shares.map((s) => [s.expert, s.share]));
    const first = unit.range.start.line + 1;
    const last = unit.range.end.line + 1;
    return {
      title: unit.name ? `${unit.name}` : unit.kind,
      detail: `${unit.kind}, lines ${first}–${last}, ${unit.tokens} tokens`,
      line: unit.range.start.line,
      cells: experts.map((e) => byExpert.get(e) ?? 0),
    };
  });
  return { experts, rows, labels };
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** Shade bucket 0..10 for a share in [0, 1]. */
export function shade(share: number): number {
  return Math.max(0, Math.min(10, Math.round(share * 10)));
}

export interface PageInput {
  nonce: string;
  cspSource: string;
  fileName: string;
  level: 'paragraph' | 'sentence';
  payload?: ExpertsPayload;
  error?: string;
}

export function heatmapHtml(input: PageInput): string {
  const { nonce } = input;
  const csp = `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; img-src ${input.cspSource} data:;`;
  let body: string;
  if (input.error) {
    body = `<p class="notice" id="status">${escapeHtml(input.error)}</p>`;
  } else if (!input.payload || !input.payload.ready) {
    body = '<p class="notice" id="status">Routing this file through the experts… (the model may still be loading)</p>';
  } else if (input.payload.units.length === 0) {
    body = '<p class="notice" id="status">No units in this file.</p>';
  } else {
    const model = heatmapModel(input.payload);
    const head = model.experts
      .map((e) => {
        const label = model.labels[String(e)];
        return `<th class="expert" title="${escapeHtml(label ? `expert ${e}: ${label}` : `expert ${e}`)}">E${e}${label ? `<span class="label">${escapeHtml(label)}</span>` : ''}</th>`;
      })
      .join('');
    // Shade relative to the largest share on the page: with 8–16 experts shares are small,
    // and absolute shading would leave the grid almost blank.
    const top = Math.max(...model.rows.flatMap((r) => r.cells), 1e-9);
    const rows = model.rows
      .map((row) => {
        const cells = row.cells
          .map((share, i) => {
            const pct = Math.round(share * 100);
            const tip = `${row.title}: expert ${model.experts[i]} ${pct}%`;
            return `<td class="cell s${shade(share / top)}" title="${escapeHtml(tip)}">${pct > 0 ? pct : ''}</td>`;
          })
          .join('');
        return `<tr data-line="${row.line}"><th class="unit" title="${escapeHtml(row.detail)}">${escapeHtml(row.title)}<span class="detail">${escapeHtml(row.detail)}</span></th>${cells}</tr>`;
      })
      .join('\n');
    body =
      `<p id="status" class="summary">${model.rows.length} ${input.level === 'paragraph' ? 'paragraphs' : 'sentences'} × ${model.experts.length} experts — share of each unit's tokens routed to each expert (%, darker = larger); click a row to go to it.</p>\n` +
      `<table id="heatmap"><thead><tr><th class="corner">unit</th>${head}</tr></thead><tbody>\n${rows}\n</tbody></table>`;
  }
  const shades = Array.from({ length: 11 }, (_, i) => {
    const alpha = (i / 10).toFixed(1);
    const fg = i >= 6 ? 'color: #fff;' : '';
    return `.s${i} { background: rgba(220, 80, 30, ${alpha}); ${fg} }`;
  }).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>R1 experts</title>
<style nonce="${nonce}">
body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); padding: 8px 16px; }
h1 { font-size: 1.2em; margin: 0 0 6px 0; }
.toolbar button { margin-right: 6px; }
.toolbar button.active { font-weight: bold; }
table { border-collapse: collapse; margin-top: 8px; }
th, td { border: 1px solid var(--vscode-editorWidget-border, #8884); padding: 2px 6px; }
td.cell { min-width: 2.2em; text-align: right; font-variant-numeric: tabular-nums; }
th.unit { text-align: left; font-weight: normal; cursor: pointer; max-width: 28em; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
th.unit .detail { display: block; font-size: 0.8em; opacity: 0.7; }
th.expert .label { display: block; font-size: 0.75em; font-weight: normal; opacity: 0.8; }
tr:hover th.unit { text-decoration: underline; }
.notice { font-style: italic; }
${shades}
</style>
</head>
<body>
<h1>Experts: ${escapeHtml(input.fileName)}</h1>
<div class="toolbar">
<button id="paragraph" class="${input.level === 'paragraph' ? 'active' : ''}">Paragraphs</button>
<button id="sentence" class="${input.level === 'sentence' ? 'active' : ''}">Sentences</button>
<button id="refresh">Refresh</button>
</div>
${body}
<script nonce="${nonce}">
const vscode = acquireVsCodeApi();
for (const id of ['paragraph', 'sentence']) {
  document.getElementById(id).addEventListener('click', () => vscode.postMessage({ type: 'level', level: id }));
}
document.getElementById('refresh').addEventListener('click', () => vscode.postMessage({ type: 'refresh' }));
for (const row of document.querySelectorAll('tr[data-line]')) {
  row.querySelector('th.unit').addEventListener('click', () => vscode.postMessage({ type: 'reveal', line: Number(row.dataset.line) }));
}
</script>
</body>
</html>`;
}
