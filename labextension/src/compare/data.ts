import { clear, h } from '../dom';
import {
  useCallText,
  useGoneText,
  useSourceText,
  usedEntryText
} from '../artifacts/uses';
import { refCode } from '../artifacts/usedsections';
import { snapshotDiffView } from '../snapshotdiff';
import {
  CompareChange,
  CompareModel,
  IComparison,
  IDataEntry,
  IDataRow,
  IUsedEntry,
  IUsedRow,
  NOT_RECORDED,
  describeDataDiff,
  describePackageDiff,
  environmentRecorded,
  errorMessage,
  stateDiffers,
  stateRows
} from './model';
import { BodyTab, muted, runHeader, stateBadge } from './tab';

/**
 * Data: each dataset the runs read and wrote, its state against the
 * baseline (same, changed, added, missing) and the snapshot diff's summary;
 * a changed one opens the full snapshot diff below its row. Below, the
 * models and artifacts of other runs each run loaded, stated the same way.
 */
export class DataTab extends BodyTab {
  constructor(model: CompareModel) {
    super(model, 'Data', 'jp-mltrack-compare-data');
  }

  protected render(change: CompareChange): void {
    const node = this.body.node;
    const comparison = this.begin(c => [c.runs, c.data, c.used]);
    if (!comparison) {
      return;
    }
    const differencesOnly = this.model.differencesOnly;
    const all = comparison.data || [];
    const used = comparison.used || [];
    if (all.length === 0 && used.length === 0) {
      node.appendChild(
        muted('No datasets recorded, and no run used artifacts of other runs.')
      );
      return;
    }
    const rows = stateRows(all, differencesOnly);
    if (rows.length > 0) {
      node.appendChild(this._dataTable(comparison, rows));
    } else {
      node.appendChild(
        muted(
          all.length
            ? 'Every run read and wrote the same data.'
            : 'No datasets recorded.'
        )
      );
    }
    if (used.length > 0) {
      const shown = stateRows(used, differencesOnly);
      node.appendChild(
        h(
          'section',
          { class: 'jp-mltrack-compare-used' },
          h('h3', {
            class: 'jp-mltrack-section-title',
            text: 'Models and artifacts used'
          }),
          shown.length > 0
            ? usedTable(comparison, shown)
            : muted('Every run used the same models and artifacts.')
        )
      );
    }
  }

  private _dataTable(comparison: IComparison, rows: IDataRow[]): HTMLElement {
    const span = comparison.runs.length + 1;
    const body = h('tbody');
    for (const row of rows) {
      for (const tr of this._row(comparison, row, span)) {
        body.appendChild(tr);
      }
    }
    return h(
      'div',
      { class: 'jp-mltrack-compare-scroll' },
      h(
        'table',
        { class: 'jp-mltrack-compare-table jp-mltrack-compare-data-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { text: 'Dataset' }),
            comparison.runs.map((run, i) =>
              h(
                'th',
                { class: 'jp-mltrack-compare-run-header' },
                runHeader(run, i === 0)
              )
            )
          )
        ),
        body
      )
    );
  }

  private _row(
    comparison: IComparison,
    row: IDataRow,
    span: number
  ): HTMLElement[] {
    const detail = h('tr', { class: 'jp-mltrack-compare-snapshot-diff-row' });
    detail.hidden = true;
    const cell = h('td', { colspan: span });
    detail.appendChild(cell);
    const base = row.entries[0] ?? null;
    const differs = stateDiffers(row);
    const tr = h(
      'tr',
      {
        class: `jp-mltrack-compare-row${differs ? ' jp-mltrack-compare-row-differs' : ''}`,
        'data-key': `${row.role}:${row.name}`
      },
      h(
        'td',
        { class: 'jp-mltrack-compare-key', title: row.path ?? row.name },
        h('span', { class: 'jp-mltrack-compare-data-role', text: row.role }),
        ' ',
        h('span', { text: row.name })
      ),
      row.entries.map((entry, i) => {
        const state = i === 0 ? null : (row.states[i] ?? null);
        const summary =
          i === 0 ? '' : describeDataDiff(state, row.diffs[i] ?? null);
        let button: HTMLElement | null = null;
        if (state === 'changed' && base && entry) {
          button = h('button', {
            class: 'jp-mltrack-button jp-mltrack-compare-snapshot-diff',
            text: 'Snapshot diff',
            title: `What changed from ${base.short} to ${entry.short}`
          });
          button.addEventListener(
            'click',
            () =>
              void this._toggleDiff(
                detail,
                cell,
                base,
                entry,
                comparison.runs[i].label
              )
          );
        }
        return h(
          'td',
          {
            class: `jp-mltrack-compare-value${
              state && state !== 'same' ? ' jp-mltrack-compare-differs' : ''
            }`
          },
          entry ? entryText(entry) : muted('\u2014'),
          state ? stateBadge(state) : null,
          summary && state !== 'same'
            ? h('div', {
                class: 'jp-mltrack-compare-data-summary',
                text: summary
              })
            : null,
          button
        );
      })
    );
    return [tr, detail];
  }

  /** Show (or hide) the snapshot diff of `a` to `b` under a row. */
  private async _toggleDiff(
    row: HTMLElement,
    cell: HTMLElement,
    a: IDataEntry,
    b: IDataEntry,
    label: string
  ): Promise<void> {
    const key = `${a.digest}..${b.digest}`;
    if (!row.hidden && row.dataset.diff === key) {
      row.hidden = true;
      return;
    }
    row.hidden = false;
    row.dataset.diff = key;
    clear(cell);
    cell.appendChild(
      h('div', { class: 'jp-mltrack-loading', text: 'Loading the diff\u2026' })
    );
    try {
      const diff = await this.model.snapshotDiff(a.digest, b.digest);
      if (row.dataset.diff !== key) {
        return;
      }
      clear(cell);
      cell.appendChild(
        snapshotDiffView(
          diff,
          `${a.short} (baseline) \u2192 ${b.short} (${label}) \u00b7 ${diff.kind ?? ''}`
        )
      );
    } catch (reason) {
      if (row.dataset.diff !== key) {
        return;
      }
      clear(cell);
      cell.appendChild(
        h('div', {
          class: 'jp-mltrack-error',
          text: `Cannot diff the snapshots: ${errorMessage(reason)}`
        })
      );
    }
  }
}

function entryText(entry: IDataEntry): HTMLElement {
  const shape =
    entry.rows !== null && entry.rows !== undefined
      ? entry.columns !== null && entry.columns !== undefined
        ? `${entry.rows.toLocaleString('en-US')} \u00d7 ${entry.columns}`
        : entry.rows.toLocaleString('en-US')
      : '';
  return h(
    'span',
    { class: 'jp-mltrack-compare-data-entry', title: entry.digest },
    h('code', { text: entry.short }),
    ` ${entry.kind}${shape ? ` ${shape}` : ''} `
  );
}

/**
 * The models and artifacts of other runs the compared runs used, one row
 * per key (a registered model's name, else the artifact's): per run, what it
 * used (`churn v2 · #3`, the reference below) and its state against the
 * baseline's.
 */
function usedTable(comparison: IComparison, rows: IUsedRow[]): HTMLElement {
  return h(
    'div',
    { class: 'jp-mltrack-compare-scroll' },
    h(
      'table',
      { class: 'jp-mltrack-compare-table jp-mltrack-compare-used-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { text: 'Used' }),
          comparison.runs.map((run, i) =>
            h(
              'th',
              { class: 'jp-mltrack-compare-run-header' },
              runHeader(run, i === 0)
            )
          )
        )
      ),
      h(
        'tbody',
        {},
        rows.map(row =>
          h(
            'tr',
            {
              class: `jp-mltrack-compare-row${stateDiffers(row) ? ' jp-mltrack-compare-row-differs' : ''}`,
              'data-key': row.key
            },
            h('td', { class: 'jp-mltrack-compare-key', text: row.key }),
            comparison.runs.map((_, i) => {
              const entry = row.entries[i] ?? null;
              const state = i === 0 ? null : (row.states[i] ?? null);
              return h(
                'td',
                {
                  class: `jp-mltrack-compare-value${
                    state && state !== 'same'
                      ? ' jp-mltrack-compare-differs'
                      : ''
                  }`
                },
                entry ? usedEntry(entry, state) : muted('\u2014'),
                !entry && state ? stateBadge(state) : null
              );
            })
          )
        )
      )
    )
  );
}

/** What one run used: `churn v2 · #3` and its state, its reference below. */
function usedEntry(entry: IUsedEntry, state: string | null): HTMLElement {
  const gone = useGoneText(entry);
  return h(
    'span',
    {
      class: 'jp-mltrack-compare-used-entry',
      title: `${useCallText(entry)} \u00b7 ${useSourceText(entry)}`
    },
    h('span', {
      class: 'jp-mltrack-compare-used-label',
      text: usedEntryText(entry)
    }),
    gone ? h('span', { class: 'jp-mltrack-use-gone', text: gone }) : null,
    state ? stateBadge(state) : null,
    refCode(entry.ref, 'jp-mltrack-compare-used-ref')
  );
}

/**
 * Environment: per run, the packages added, removed and changed against
 * the baseline (each change graded), and the versions side by side.
 */
export class EnvironmentTab extends BodyTab {
  constructor(model: CompareModel) {
    super(model, 'Environment', 'jp-mltrack-compare-environment');
  }

  protected render(change: CompareChange): void {
    const node = this.body.node;
    const comparison = this.begin(c => [c.runs, c.environment]);
    if (!comparison) {
      return;
    }
    const env = comparison.environment || { packages: [], diffs: [] };
    const base = comparison.runs[0];
    for (let i = 1; i < comparison.runs.length; i++) {
      const run = comparison.runs[i];
      const diff = env.diffs?.[i] ?? null;
      const changes = describePackageDiff(diff);
      const unknown = Boolean(diff?.unknown);
      const items: HTMLElement[] = [];
      if (diff && !unknown) {
        for (const c of diff.changed) {
          items.push(
            h(
              'li',
              { 'data-package': c.name },
              h('span', { class: 'jp-mltrack-compare-package', text: c.name }),
              ` ${c.from} \u2192 ${c.to} `,
              h('span', {
                class: `jp-mltrack-compare-grade jp-mltrack-compare-grade-${c.grade}`,
                text: c.grade
              })
            )
          );
        }
        for (const a of diff.added) {
          items.push(
            h(
              'li',
              {
                class: 'jp-mltrack-compare-package-added',
                'data-package': a.name
              },
              h('span', { class: 'jp-mltrack-compare-package', text: a.name }),
              ` ${a.version} `,
              h('span', { class: 'jp-mltrack-compare-grade', text: 'added' })
            )
          );
        }
        for (const r of diff.removed) {
          items.push(
            h(
              'li',
              {
                class: 'jp-mltrack-compare-package-removed',
                'data-package': r.name
              },
              h('span', { class: 'jp-mltrack-compare-package', text: r.name }),
              ` ${r.version} `,
              h('span', { class: 'jp-mltrack-compare-grade', text: 'removed' })
            )
          );
        }
      }
      node.appendChild(
        h(
          'section',
          { class: 'jp-mltrack-compare-env-run', 'data-run-id': run.id },
          h('h3', {
            class: 'jp-mltrack-section-title',
            text: `${base.label} \u2192 ${run.label}`
          }),
          changes.length
            ? h('ul', { class: 'jp-mltrack-compare-package-changes' }, items)
            : muted(
                unknown
                  ? environmentRecorded(env.recorded, i)
                    ? `Environment of ${base.label} not recorded (yet): packages unknown.`
                    : `Environment ${NOT_RECORDED} (yet): packages unknown; the run may still be running.`
                  : diff
                    ? 'Same packages.'
                    : 'No packages recorded.'
              )
        )
      );
    }
    const packages = (env.packages || []).filter(
      p => !this.model.differencesOnly || p.differs
    );
    if (packages.length) {
      node.appendChild(
        h(
          'details',
          { class: 'jp-mltrack-compare-packages', open: packages.length <= 30 },
          h('summary', {
            text: `${this.model.differencesOnly ? 'Differing packages' : 'Packages'} (${packages.length})`
          }),
          h(
            'table',
            { class: 'jp-mltrack-compare-table' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', { text: 'Package' }),
                comparison.runs.map(run => h('th', { text: run.label }))
              )
            ),
            h(
              'tbody',
              {},
              packages.map(p =>
                h(
                  'tr',
                  {
                    class: `jp-mltrack-compare-row${p.differs ? ' jp-mltrack-compare-row-differs' : ''}`,
                    'data-key': p.name
                  },
                  h('td', { class: 'jp-mltrack-compare-key', text: p.name }),
                  p.values.map((v, i) =>
                    environmentRecorded(env.recorded, i)
                      ? h('td', {
                          class: `jp-mltrack-compare-value${
                            i > 0 && v !== p.values[0]
                              ? ' jp-mltrack-compare-differs'
                              : ''
                          }`,
                          text: v ?? '\u2014'
                        })
                      : h('td', {
                          class:
                            'jp-mltrack-compare-value jp-mltrack-muted jp-mltrack-compare-unknown',
                          text: NOT_RECORDED
                        })
                  )
                )
              )
            )
          )
        )
      );
    }
  }
}
