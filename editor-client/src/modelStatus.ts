/**
 * What the status bar shows, as plain data and pure functions (unit tested without VS Code):
 * parsing the server's "R1 model ready: <device>, <quantization>" log line, following
 * `$/progress` while the model loads, and formatting the text.
 */

export interface ModelStatus {
  server: 'stopped' | 'starting' | 'running' | 'failed';
  model: string; // checkpoint name
  device?: string; // "cuda", "cpu" (from the log line)
  quantization?: string; // "int8", "none"
  unavailable?: string; // why the model is not available (structural completions only)
  loading?: { message?: string; percentage?: number }; // while $/progress is active
  latencyMs?: number; // last completion / inline completion round trip
  latencyKind?: 'completion' | 'ghost text';
}

export type ModelLogEvent =
  | { kind: 'ready'; device: string; quantization: string }
  | { kind: 'unavailable'; reason: string };

/** Parse the server's window/logMessage (or progress end message) about the model. */
export function parseModelMessage(message: string): ModelLogEvent | undefined {
  const ready = /R1 model ready:\s*([^,\s]+)\s*,\s*(.+?)\s*$/.exec(message);
  if (ready) {
    return { kind: 'ready', device: ready[1], quantization: ready[2] };
  }
  const unavailable = /R1 model unavailable:\s*(.*)$/.exec(message);
  if (unavailable) {
    return { kind: 'unavailable', reason: unavailable[1].trim() };
  }
  return undefined;
}

export function applyModelEvent(status: ModelStatus, event: ModelLogEvent): ModelStatus {
  if (event.kind === 'ready') {
    return { ...status, device: event.device, quantization: event.quantization, unavailable: undefined, loading: undefined };
  }
  return { ...status, device: undefined, quantization: undefined, unavailable: event.reason, loading: undefined };
}

/** A `$/progress` value (WorkDoneProgressBegin/Report/End) applied to the status. */
export function applyProgress(
  status: ModelStatus,
  value: { kind: 'begin' | 'report' | 'end'; message?: string; percentage?: number; title?: string },
): ModelStatus {
  if (value.kind === 'end') {
    const event = value.message ? parseModelMessage(value.message) : undefined;
    const done = { ...status, loading: undefined };
    return event ? applyModelEvent(done, event) : done;
  }
  const previous = status.loading ?? {};
  return {
    ...status,
    loading: {
      message: value.message ?? previous.message ?? value.title,
      percentage: value.percentage ?? previous.percentage,
    },
  };
}

export interface StatusText {
  text: string;
  tooltip: string;
}

export function formatStatus(s: ModelStatus): StatusText {
  if (s.server === 'failed') {
    return { text: '$(error) R1: server not running', tooltip: 'r1lsp did not start: see "R1: Show Log". Click to restart.' };
  }
  if (s.server === 'stopped') {
    return { text: '$(circle-slash) R1: stopped', tooltip: 'r1lsp is stopped. Click to restart.' };
  }
  if (s.server === 'starting') {
    return { text: '$(sync~spin) R1: starting', tooltip: 'Starting r1lsp…' };
  }
  if (s.loading) {
    const pct = s.loading.percentage !== undefined ? ` ${s.loading.percentage}%` : '';
    return {
      text: `$(sync~spin) R1 ${s.model}: loading${pct}`,
      tooltip: `Loading the R1 model${s.loading.message ? ': ' + s.loading.message : ''}`,
    };
  }
  if (s.unavailable) {
    return {
      text: `$(warning) R1 ${s.model}: no model`,
      tooltip: `R1 model unavailable: ${s.unavailable}\nCompletions fall back to the code structure. Set r1lsp.model.path.`,
    };
  }
  const parts = [`R1 ${s.model}`];
  if (s.device) {
    parts.push(s.device);
  }
  if (s.quantization) {
    parts.push(s.quantization);
  }
  if (s.latencyMs !== undefined) {
    parts.push(`${Math.round(s.latencyMs)} ms`);
  }
  const tooltip = [
    `model: ${s.model}`,
    `device: ${s.device ?? '(loading or not reported yet)'}`,
    `quantization: ${s.quantization ?? '?'}`,
    s.latencyMs !== undefined ? `last ${s.latencyKind ?? 'request'}: ${Math.round(s.latencyMs)} ms` : 'no request timed yet',
    'Click: R1: Show Log',
  ].join('\n');
  return { text: `$(hubot) ${parts.join(' · ')}`, tooltip };
}
