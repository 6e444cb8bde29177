/**
 * The texts around the runs list: the footer (how many runs, how many
 * selected, when last updated), the note on selected runs not in the list,
 * and what an empty list says.
 */

/** What the footer tells. */
export interface IFooterState {
  /** Top-level runs (runs matching a filter), `null` before an answer. */
  total: number | null;
  /**
   * `total` is only the rows of the first page and more follow: the list
   * is not counted yet (`100+ runs`).
   */
  more?: boolean;
  /** The list is being counted (said only while `more`). */
  counting?: boolean;
  /** A new list (filter, order, scope) is being fetched. */
  loading: boolean;
  /** Runs checked for comparison. */
  selected: number;
  /** When the list was last checked, formatted. */
  updatedAt: string;
}

/**
 * `2,000 runs · 3 selected · updated 12:00:01`; before the list is counted,
 * `100+ runs · counting… · updated 12:00:01`.
 */
export function footerText(state: IFooterState): string {
  const parts: string[] = [];
  if (state.total !== null) {
    const more = state.more === true;
    const noun = state.total === 1 && !more ? 'run' : 'runs';
    const plus = more ? '+' : '';
    parts.push(`${state.total.toLocaleString('en-US')}${plus} ${noun}`);
    if (more && state.counting) {
      parts.push('counting\u2026');
    }
  }
  if (state.loading) {
    parts.push('filtering\u2026');
  }
  if (state.selected > 0) {
    parts.push(`${state.selected} selected`);
  }
  if (state.updatedAt) {
    parts.push(`updated ${state.updatedAt}`);
  }
  return parts.join(' \u00b7 ');
}

/**
 * How many selected runs are not among the loaded rows (another scope, the
 * filter, a collapsed parent, a page not fetched): they are compared too.
 */
export function hiddenSelected(
  selected: readonly string[],
  loaded: readonly string[]
): number {
  const listed = new Set(loaded);
  return selected.filter(id => !listed.has(id)).length;
}

/** What an empty list says, `null` when it is not empty (or not known yet). */
export function emptyText(state: {
  total: number | null;
  filtered: boolean;
  scope: 'notebook' | 'experiment' | 'all';
}): string | null {
  if (state.total === null || state.total > 0) {
    return null;
  }
  if (state.filtered) {
    return 'No run matches the filter.';
  }
  return state.scope === 'notebook'
    ? 'No run recorded by this notebook yet. Run %load_ext jupyter_mltrack, then a cell starting with %%track.'
    : 'No run recorded yet.';
}
