/**
 * How the compare view words and colours changes, verdicts, datasets,
 * packages and explanations (pure: no DOM).
 */
import { JSONValue, formatBytes, formatNumber, formatValue } from '../model';
import {
  DataState,
  IAttributeRow,
  ICompareRun,
  IDataDiff,
  IExplanation,
  IFactor,
  IMetricRow,
  IOutputCut,
  IPackageDiff,
  MetricValue,
  Verdict
} from './types';

/** What a cell says for a value a run has not recorded (yet), unlike `—`. */
export const NOT_RECORDED = 'not recorded';

/** How a change is shown: text, arrow and the class colouring it. */
export interface IChangeDisplay {
  /** `+0.03 (+3.3%)`, `−2`, `±0`, or '' when there is no change to show. */
  text: string;
  /** `▲`, `▼` or ''. */
  arrow: string;
  /** `jp-mltrack-compare-better`, `-worse`, `-same` or `-neutral`. */
  className: string;
  verdict: Verdict | null;
}

const MINUS = '\u2212';

/** A signed number: `+0.03`, `−2`, `±0`. */
export function formatSigned(value: number): string {
  if (value === 0) {
    return '\u00b10';
  }
  if (isNaN(value)) {
    return 'NaN';
  }
  return `${value > 0 ? '+' : MINUS}${formatNumber(Math.abs(value))}`;
}

/** A percentage with one decimal: `+3.3%`, `−12%`, `±0%`. */
export function formatPercent(value: number): string {
  if (value === 0) {
    return '\u00b10%';
  }
  if (!isFinite(value)) {
    return isNaN(value) ? 'NaN' : value > 0 ? '+inf%' : `${MINUS}inf%`;
  }
  const abs = Math.abs(value);
  const text = abs >= 100 ? abs.toFixed(0) : String(Number(abs.toFixed(1)));
  return `${value > 0 ? '+' : MINUS}${text}%`;
}

/** The CSS class of a verdict. */
export function verdictClass(verdict: Verdict | null | undefined): string {
  switch (verdict) {
    case 'better':
      return 'jp-mltrack-compare-better';
    case 'worse':
      return 'jp-mltrack-compare-worse';
    case 'same':
      return 'jp-mltrack-compare-same';
    default:
      return 'jp-mltrack-compare-neutral';
  }
}

/**
 * Show the change of a value against the baseline. `verdict` (metrics only)
 * colours it; parameters have none and stay neutral.
 */
export function formatChange(
  change: number | null | undefined,
  pct?: number | null,
  verdict?: Verdict | null
): IChangeDisplay {
  if (change === null || change === undefined) {
    return {
      text: '',
      arrow: '',
      className: verdictClass(null),
      verdict: null
    };
  }
  const arrow = change > 0 ? '\u25b2' : change < 0 ? '\u25bc' : '';
  let text = formatSigned(change);
  if (pct !== null && pct !== undefined && change !== 0) {
    text += ` (${formatPercent(pct)})`;
  }
  const v = verdict ?? (change === 0 ? 'same' : null);
  return { text, arrow, className: verdictClass(v), verdict: v };
}

/** A cell value of the overview (`—` where a run has none). */
export function formatCell(value: JSONValue | undefined): string {
  if (value === null || value === undefined) {
    return '\u2014';
  }
  return formatValue(value);
}

/**
 * A metric value: `—` where the run did not log it (`null`), `NaN`, `inf`
 * or `-inf` where it logged a non-finite value (`'nan'`, `'inf'`, `'-inf'`).
 */
export function formatMetric(value: MetricValue | undefined): string {
  if (value === null || value === undefined) {
    return '\u2014';
  }
  if (value === 'nan') {
    return 'NaN';
  }
  if (value === 'inf' || value === '-inf') {
    return value;
  }
  return typeof value === 'number' ? formatNumber(value) : String(value);
}

/**
 * The step a metric's value was taken at, as ` @29`, or '' when there is
 * none to show. For a `step=N` reducer it is always shown, so a series that
 * stopped before N (`step=100` gives the value at 29) says so.
 */
export function formatAtStep(row: IMetricRow, i: number): string {
  const step = row.steps?.[i];
  if (!row.has_series || step === null || step === undefined) {
    return '';
  }
  if (row.values?.[i] === null || row.values?.[i] === undefined) {
    return '';
  }
  return ` @${step}`;
}

/** Whether run `i`'s value of an attribute is not recorded (yet). */
export function attributeUnknown(row: IAttributeRow, i: number): boolean {
  return Boolean(row.unknown?.[i]);
}

/** Whether run `i` recorded its environment (unknown: assume it did). */
export function environmentRecorded(
  recorded: boolean[] | undefined,
  i: number
): boolean {
  return recorded?.[i] ?? true;
}

/** What the comparison left out of an output, or '' when nothing. */
export function outputCutNote(cut: IOutputCut | null | undefined): string {
  if (!cut) {
    return '';
  }
  if (cut.chars !== undefined && cut.shown !== undefined) {
    return `First ${cut.shown.toLocaleString('en-US')} of ${cut.chars.toLocaleString(
      'en-US'
    )} characters shown; open the run for its full output.`;
  }
  if (cut.bytes !== undefined) {
    return `Output of ${formatBytes(cut.bytes)} left out of the comparison; open the run to see it.`;
  }
  return 'Output cut; open the run for its full output.';
}

/** The tab title: `Compare #3 #5 #7` (the labels as the server wrote them). */
export function compareTitle(
  runs: Pick<ICompareRun, 'label'>[] | null,
  requested: string[] = []
): string {
  if (!runs || runs.length === 0) {
    return `Compare ${requested.length} runs`;
  }
  return `Compare ${runs.map(run => run.label).join(' ')}`;
}

/** `The evidence accounts for 80% of the change.` */
export function explainedText(explanation: IExplanation): string {
  if (explanation.explained === null || explanation.explained === undefined) {
    return 'The evidence does not account for the change.';
  }
  const pct = Math.round(clamp(explanation.explained, 0, 1) * 100);
  return `The evidence accounts for ${pct}% of the change.`;
}

/** `acc 0.91 → 0.94 (+0.03), higher is better`. */
export function explainHeadline(explanation: IExplanation): string {
  const change =
    explanation.change === null ? '' : ` (${formatSigned(explanation.change)})`;
  const goal =
    explanation.goal === 'min' ? 'lower is better' : 'higher is better';
  return `${explanation.metric} ${formatMetric(explanation.a.value)} \u2192 ${formatMetric(
    explanation.b.value
  )}${change} from ${explanation.a.label} to ${explanation.b.label}; ${goal}`;
}

/** The verdict of an explained change (`null` when it did not move). */
export function explainVerdict(explanation: IExplanation): Verdict | null {
  const change = explanation.change;
  if (change === null || change === undefined || isNaN(change)) {
    return null;
  }
  if (change === 0) {
    return 'same';
  }
  return change > 0 === (explanation.goal === 'max') ? 'better' : 'worse';
}

/**
 * The values of a factor, A's then B's (`0.1 → 0.01`, `churn v1 → churn v2`),
 * for the kinds whose values read as such (not digests nor code); '' for
 * the others. A model used only by one of the runs is `—` in the other.
 */
export function factorValuesText(factor: IFactor): string {
  if (
    factor.kind === 'param' ||
    factor.kind === 'seed' ||
    factor.kind === 'package'
  ) {
    return `${formatValue(factor.a ?? null)} \u2192 ${formatValue(factor.b ?? null)}`;
  }
  if (factor.kind === 'used') {
    const side = (v: JSONValue) =>
      v === null || v === undefined ? '\u2014' : formatValue(v);
    return `${side(factor.a)} \u2192 ${side(factor.b)}`;
  }
  return '';
}

/** One line of a dataset's change: `rows 100 → 120 · changed: x, y · drift x 0.30`. */
export function describeDataDiff(
  state: DataState | null,
  diff: IDataDiff | null
): string {
  if (state === 'same') {
    return 'same content';
  }
  if (state === 'added') {
    return 'only in this run';
  }
  if (state === 'missing') {
    return 'not in this run';
  }
  if (state !== 'changed' || !diff) {
    return state === 'changed' ? 'changed' : '';
  }
  const parts: string[] = [];
  if (diff.rows && diff.rows[0] !== diff.rows[1]) {
    parts.push(
      `rows ${formatCount(diff.rows[0])} \u2192 ${formatCount(diff.rows[1])}`
    );
  }
  if (diff.added_columns?.length) {
    parts.push(`added: ${diff.added_columns.join(', ')}`);
  }
  if (diff.removed_columns?.length) {
    parts.push(`removed: ${diff.removed_columns.join(', ')}`);
  }
  if (diff.schema_changed && !diff.added_columns?.length) {
    if (!diff.removed_columns?.length) {
      parts.push('schema changed');
    }
  }
  if (diff.changed_columns?.length) {
    parts.push(`changed: ${diff.changed_columns.join(', ')}`);
  }
  const drift = (diff.drift || []).filter(d => d && d.psi !== null);
  if (drift.length) {
    parts.push(
      `drift ${drift
        .map(d => `${d.column} ${formatNumber(Number(d.psi.toFixed(2)))}`)
        .join(', ')}`
    );
  }
  return parts.length ? parts.join(' \u00b7 ') : 'changed';
}

/**
 * A package change: `numpy 1.26.4 → 2.0.1 (major)`; nothing when the
 * environment of the run or of the baseline is not recorded (yet).
 */
export function describePackageDiff(diff: IPackageDiff | null): string[] {
  if (!diff || diff.unknown) {
    return [];
  }
  return [
    ...diff.changed.map(c => `${c.name} ${c.from} \u2192 ${c.to} (${c.grade})`),
    ...diff.added.map(a => `+ ${a.name} ${a.version}`),
    ...diff.removed.map(r => `\u2212 ${r.name} ${r.version}`)
  ];
}

/** The message to show for a failed request: the server's own words. */
export function errorMessage(reason: unknown): string {
  if (reason && typeof reason === 'object') {
    const error = reason as { message?: string; response?: Response };
    const status = error.response?.status;
    const message = error.message || String(reason);
    if (status === 404) {
      return `Not found: ${message}`;
    }
    return message;
  }
  return String(reason);
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

function formatCount(value: number | null): string {
  return value === null || value === undefined
    ? '?'
    : value.toLocaleString('en-US');
}
