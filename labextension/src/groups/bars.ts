/**
 * What a groups table cell shows: `mean ± std`, its tooltip, and the small
 * inline error bar, scaled across its column. Pure (tested with jest); the
 * DOM is view.ts's.
 */

import { JSONValue, formatNumber, formatValue } from '../model';

/**
 * One metric over a group's runs, as `runs/groups` answers it: `count` runs
 * have a value; `std` is the sample standard deviation (`null` below two
 * values); the rest `null` when no run has one.
 */
export interface IAggregate {
  count: number;
  mean: number | null;
  std: number | null;
  min: number | null;
  max: number | null;
}

/** A group of `runs/groups`. */
export interface IGroup {
  /** The grouping field's typed value, `null` for the runs without one. */
  value: JSONValue;
  /** Runs in the group. */
  count: number;
  /** Per metric as the request named it (`acc`, `loss.min`). */
  metrics: { [spec: string]: IAggregate };
}

/** `GET runs/groups` (and with `figure=1`, its plotly chart). */
export interface IGroupsAnswer {
  group_by: string;
  metrics: string[];
  /** Largest group first. */
  groups: IGroup[];
  /** Runs in all groups. */
  total: number;
  figure?: { data?: unknown[]; layout?: { [key: string]: unknown } };
}

/**
 * An error bar in a column's coordinates, each a fraction (0 to 1) of the
 * column's extent: the mean, ± one standard deviation around it (`low` =
 * `high` = `mean` for a single value), and the min and max when known.
 */
export interface IBar {
  mean: number;
  low: number;
  high: number;
  min: number | null;
  max: number | null;
}

/**
 * The extent of a column: from the lowest to the highest of the groups'
 * minima, maxima and mean ± std. The spread reaches past the values
 * themselves (two runs' sample std is √2 times half their distance), and a
 * bar cut at the column's edge would hide it. `null` when no group has a
 * finite value.
 */
export function columnExtent(
  aggregates: (IAggregate | undefined)[]
): { lo: number; hi: number } | null {
  let lo = Infinity;
  let hi = -Infinity;
  const take = (v: number | null | undefined) => {
    if (isFiniteNumber(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  };
  for (const a of aggregates) {
    if (!a || !isFiniteNumber(a.mean)) {
      continue;
    }
    const std = isFiniteNumber(a.std) ? a.std : 0;
    take(a.mean - std);
    take(a.mean + std);
    take(a.min);
    take(a.max);
  }
  return lo <= hi ? { lo, hi } : null;
}

/**
 * The error bars of a column, one per group (`null` for a group without a
 * mean). Scaled across the column's extent (`columnExtent`), so bars of one
 * column compare at a glance; a column whose values are all the same (a
 * single run, or one group with no spread) draws every mean in the middle.
 */
export function scaleBars(
  aggregates: (IAggregate | undefined)[]
): (IBar | null)[] {
  const extent = columnExtent(aggregates);
  return aggregates.map(a => {
    if (!extent || !a || !isFiniteNumber(a.mean)) {
      return null;
    }
    const span = extent.hi - extent.lo;
    const at = (v: number) =>
      span > 0 ? clamp01((v - extent.lo) / span) : 0.5;
    const std = isFiniteNumber(a.std) ? a.std : 0;
    return {
      mean: at(a.mean),
      low: at(a.mean - std),
      high: at(a.mean + std),
      min: isFiniteNumber(a.min) ? at(a.min) : null,
      max: isFiniteNumber(a.max) ? at(a.max) : null
    };
  });
}

/**
 * A cell's text: `0.8312 ± 0.0121`; the mean alone for a group with one
 * value (no spread to tell); empty when no run of the group has the metric.
 */
export function aggregateText(a: IAggregate | undefined): string {
  if (!a || !isFiniteNumber(a.mean)) {
    return '';
  }
  const mean = formatNumber(a.mean);
  return isFiniteNumber(a.std) ? `${mean} \u00b1 ${formatNumber(a.std)}` : mean;
}

/**
 * A cell's tooltip: the metric, its mean and std, its min and max, and how
 * many of the group's runs have a value.
 */
export function aggregateTitle(
  label: string,
  a: IAggregate | undefined,
  runs: number
): string {
  const count = a?.count ?? 0;
  const noun = runs === 1 ? 'run' : 'runs';
  if (!a || count === 0 || !isFiniteNumber(a.mean)) {
    return `${label}: none of the group's ${runs} ${noun} has a value`;
  }
  const lines = [
    isFiniteNumber(a.std)
      ? `${label}: mean ${formatNumber(a.mean)} \u00b1 ${formatNumber(a.std)} (std)`
      : `${label}: ${formatNumber(a.mean)} (one value: no spread)`
  ];
  if (isFiniteNumber(a.min) && isFiniteNumber(a.max)) {
    lines.push(`min ${formatNumber(a.min)} \u00b7 max ${formatNumber(a.max)}`);
  }
  lines.push(`${count} of ${runs} ${noun} with a value`);
  return lines.join('\n');
}

/**
 * A group's value as its row shows it: `(none)` for the runs without one,
 * a string as it is (`""` for the empty one), a number in full (it is what
 * tells the groups apart), a boolean as the run detail writes it.
 */
export function groupLabel(value: JSONValue): string {
  if (value === null) {
    return '(none)';
  }
  if (typeof value === 'string') {
    return value === '' ? '""' : value;
  }
  if (typeof value === 'number') {
    return String(value);
  }
  return formatValue(value);
}

/** The footer in group mode: `2 groups · 6 runs · updated 12:00:01`. */
export function groupsFooterText(state: {
  groups: number | null;
  runs: number | null;
  loading: boolean;
  selected: number;
  updatedAt: string;
}): string {
  const parts: string[] = [];
  if (state.groups !== null) {
    parts.push(`${count(state.groups, 'group')}`);
  }
  if (state.runs !== null) {
    parts.push(`${count(state.runs, 'run')}`);
  }
  if (state.loading) {
    parts.push('grouping\u2026');
  }
  if (state.selected > 0) {
    parts.push(`${state.selected} selected`);
  }
  if (state.updatedAt) {
    parts.push(`updated ${state.updatedAt}`);
  }
  return parts.join(' \u00b7 ');
}

function count(n: number, noun: string): string {
  return `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`;
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}
