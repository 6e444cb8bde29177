import { OPEN_RUN_EVENT, clear, h } from '../dom';
import { JSONValue, formatDuration, formatTimestamp } from '../model';
import {
  CompareChange,
  CompareModel,
  IAttributeRow,
  IComparison,
  IMetricRow,
  IParamRow,
  NOT_RECORDED,
  REDUCER_KINDS,
  ReducerKind,
  attributeUnknown,
  describeReducer,
  formatCell,
  formatAtStep,
  formatChange,
  formatMetric,
  maxStep,
  parseReducer,
  reducerSpec
} from './model';
import { BodyTab, answerStatus, runHeader } from './tab';

/**
 * Overview: a column per run (baseline first), parameters, metrics and
 * attributes, differences only by default.
 */
export class OverviewTab extends BodyTab {
  constructor(model: CompareModel) {
    super(model, 'Overview', 'jp-mltrack-compare-overview');
  }

  protected wants(change: CompareChange): boolean {
    return change !== 'loading';
  }

  protected render(change: CompareChange): void {
    const node = this.body.node;
    const comparison = this.model.comparison;
    // Keep the table while a request fails: only say why above it.
    clear(node);
    if (!comparison) {
      node.appendChild(answerStatus(this.model));
      return;
    }
    if (this.model.error) {
      node.appendChild(answerStatus(this.model));
    }
    node.appendChild(this._controls(comparison));
    node.appendChild(this._table(comparison));
  }

  private _controls(comparison: IComparison): HTMLElement {
    const model = this.model;
    const diffOnly = h('input', {
      type: 'checkbox',
      class: 'jp-mltrack-compare-diff-only'
    });
    diffOnly.checked = model.differencesOnly;
    diffOnly.addEventListener('change', () => {
      model.differencesOnly = diffOnly.checked;
    });
    const rows = model.rows;
    const hidden =
      model.differencesOnly && rows.hidden > 0
        ? h('span', {
            class: 'jp-mltrack-muted jp-mltrack-compare-hidden-count',
            text: `${rows.hidden} identical row${rows.hidden === 1 ? '' : 's'} hidden`
          })
        : null;
    return h(
      'div',
      { class: 'jp-mltrack-compare-controls' },
      h('label', {}, diffOnly, ' Differences only'),
      hidden,
      h('span', { class: 'jp-mltrack-spacer' }),
      this._stepSlider(comparison)
    );
  }

  /** The step slider, when the runs have series. */
  private _stepSlider(comparison: IComparison): HTMLElement | null {
    const model = this.model;
    const max = maxStep(comparison);
    if (max === null) {
      return null;
    }
    const slider = h('input', {
      type: 'range',
      class: 'jp-mltrack-compare-step',
      min: 0,
      max,
      step: 1,
      'aria-label': 'Step'
    });
    slider.value = String(model.step ?? max);
    const label = h('span', {
      class: 'jp-mltrack-compare-step-value',
      text: model.step === null ? 'last' : String(model.step)
    });
    slider.addEventListener('input', () => {
      label.textContent = slider.value;
    });
    slider.addEventListener('change', () => {
      void model.setStep(Number(slider.value));
    });
    const last = h('button', {
      class: 'jp-mltrack-button jp-mltrack-compare-step-last',
      text: 'Last',
      title: 'Show every metric at its last logged point',
      disabled: model.step === null
    });
    last.addEventListener('click', () => void model.setStep(null));
    return h(
      'label',
      { class: 'jp-mltrack-compare-step-control' },
      'Step ',
      slider,
      ' ',
      label,
      ' ',
      last
    );
  }

  private _table(comparison: IComparison): HTMLElement {
    const model = this.model;
    const runs = comparison.runs;
    const head = h(
      'tr',
      {},
      h('th', { class: 'jp-mltrack-compare-key-header', text: '' }),
      runs.map((run, i) => {
        const baseline = i === 0;
        const open = h('button', {
          class: 'jp-mltrack-icon-button jp-mltrack-compare-open-run',
          text: '\u2197',
          title: `Open run ${run.label}`,
          'aria-label': `Open run ${run.label}`
        });
        open.addEventListener('click', event => {
          event.stopPropagation();
          open.dispatchEvent(
            new CustomEvent(OPEN_RUN_EVENT, {
              bubbles: true,
              detail: { runId: run.id }
            })
          );
        });
        const th = h(
          'th',
          {
            class: `jp-mltrack-compare-run-header${
              baseline ? ' jp-mltrack-compare-baseline' : ''
            }`,
            'data-run-id': run.id,
            title: baseline
              ? `${run.label} is the baseline`
              : `Make ${run.label} the baseline`,
            tabindex: baseline ? undefined : 0
          },
          runHeader(run, baseline),
          open
        );
        if (!baseline) {
          const choose = () => void model.setBaseline(run.id);
          th.addEventListener('click', choose);
          th.addEventListener('keydown', event => {
            if (event.key === 'Enter' || event.key === ' ') {
              event.preventDefault();
              choose();
            }
          });
        }
        return th;
      })
    );
    const rows = model.rows;
    const span = runs.length + 1;
    const table = h(
      'table',
      { class: 'jp-mltrack-compare-table' },
      h('thead', {}, head)
    );
    table.appendChild(
      this._section('Parameters', 'params', span, rows.params, row =>
        this._paramRow(row)
      )
    );
    table.appendChild(
      this._section('Metrics', 'metrics', span, rows.metrics, row =>
        this._metricRow(row)
      )
    );
    table.appendChild(
      this._section('Attributes', 'attributes', span, rows.attributes, row =>
        this._attributeRow(row)
      )
    );
    return h('div', { class: 'jp-mltrack-compare-scroll' }, table);
  }

  private _section<T>(
    title: string,
    name: string,
    span: number,
    rows: T[],
    render: (row: T) => HTMLElement
  ): HTMLElement {
    const empty = this.model.differencesOnly
      ? `No ${title.toLowerCase()} differ.`
      : `No ${title.toLowerCase()}.`;
    return h(
      'tbody',
      { class: `jp-mltrack-compare-section`, 'data-section': name },
      h(
        'tr',
        { class: 'jp-mltrack-compare-section-header' },
        h('th', { colspan: span, text: title })
      ),
      rows.length
        ? rows.map(render)
        : h(
            'tr',
            {},
            h('td', { class: 'jp-mltrack-muted', colspan: span, text: empty })
          )
    );
  }

  private _paramRow(row: IParamRow): HTMLElement {
    const base = JSON.stringify(row.values[0] ?? null);
    return h(
      'tr',
      rowAttrs(row.key, row.differs),
      h('td', {
        class: 'jp-mltrack-compare-key',
        text: row.key,
        title: row.key
      }),
      row.values.map((value, i) => {
        const differs = i > 0 && JSON.stringify(value ?? null) !== base;
        const change = i > 0 ? formatChange(row.changes?.[i] ?? null) : null;
        return h(
          'td',
          {
            class: `jp-mltrack-compare-value${
              differs ? ' jp-mltrack-compare-differs' : ''
            }`
          },
          h('span', { text: formatCell(value) }),
          change && change.text ? changeSpan(change) : null
        );
      })
    );
  }

  private _metricRow(row: IMetricRow): HTMLElement {
    const base = row.values[0];
    return h(
      'tr',
      rowAttrs(row.key, row.differs),
      h(
        'td',
        { class: 'jp-mltrack-compare-key' },
        h('span', {
          text: row.key,
          title: `${row.key}: ${row.goal === 'min' ? 'lower' : 'higher'} is better`
        }),
        h('span', {
          class: 'jp-mltrack-compare-goal',
          text: row.goal === 'min' ? ' \u2193' : ' \u2191'
        }),
        this._reducerControl(row)
      ),
      row.values.map((value, i) => {
        const differs = i > 0 && value !== base;
        const change =
          i > 0
            ? formatChange(
                row.changes?.[i] ?? null,
                row.pct_changes?.[i] ?? null,
                row.verdicts?.[i] ?? null
              )
            : null;
        const step = row.steps?.[i];
        const at = formatAtStep(row, i);
        return h(
          'td',
          {
            class: `jp-mltrack-compare-value${
              differs ? ' jp-mltrack-compare-differs' : ''
            }`,
            'data-verdict': change?.verdict ?? undefined
          },
          h('span', { text: formatMetric(value) }),
          at
            ? h('span', {
                class: 'jp-mltrack-compare-at-step',
                text: at,
                title: `value at step ${step}`
              })
            : null,
          change && change.text ? changeSpan(change) : null
        );
      })
    );
  }

  /** The reducer of a metric: a select, and K or N for mean and step. */
  private _reducerControl(row: IMetricRow): HTMLElement {
    const model = this.model;
    const current = parseReducer(row.reducer) ?? { kind: 'last', arg: null };
    const select = h('select', {
      class: 'jp-mltrack-compare-reducer',
      'aria-label': `Reducer of ${row.key}`,
      title: describeReducer(row.reducer)
    });
    for (const kind of REDUCER_KINDS) {
      if (kind === 'step' && !row.has_series) {
        continue;
      }
      const option = h('option', {
        value: kind,
        text:
          kind === 'mean' ? 'mean of last' : kind === 'step' ? 'at step' : kind
      });
      option.selected = kind === current.kind;
      select.appendChild(option);
    }
    const arg = h('input', {
      type: 'number',
      class: 'jp-mltrack-compare-reducer-arg',
      min: current.kind === 'mean' ? 1 : 0,
      max: row.max_step ?? undefined,
      'aria-label': current.kind === 'mean' ? 'Points' : 'Step'
    });
    arg.value = current.arg === null ? '' : String(current.arg);
    arg.hidden = current.kind !== 'mean' && current.kind !== 'step';
    const apply = (kind: ReducerKind, value: number | null) =>
      void model.setReducer(row.key, reducerSpec(kind, value)).catch(() => {
        /* the model shows the error */
      });
    select.addEventListener('change', () => {
      const kind = select.value as ReducerKind;
      const value =
        kind === 'step'
          ? (row.max_step ?? 0)
          : kind === 'mean'
            ? current.kind === 'mean'
              ? current.arg
              : 5
            : null;
      apply(kind, value);
    });
    arg.addEventListener('change', () => {
      const value = Number(arg.value);
      if (arg.value !== '' && isFinite(value)) {
        apply(current.kind, value);
      }
    });
    return h(
      'span',
      { class: 'jp-mltrack-compare-reducer-control' },
      select,
      arg
    );
  }

  private _attributeRow(row: IAttributeRow): HTMLElement {
    const base = JSON.stringify(row.values[0] ?? null);
    return h(
      'tr',
      rowAttrs(row.key, row.differs),
      h('td', { class: 'jp-mltrack-compare-key', text: row.key }),
      row.values.map((value, i) => {
        const unknown = attributeUnknown(row, i);
        const text = unknown ? NOT_RECORDED : formatAttribute(row.key, value);
        // start_time differs by nature and unknown values are no difference:
        // only a row that differs highlights its cells
        const differs =
          row.differs &&
          i > 0 &&
          !unknown &&
          JSON.stringify(value ?? null) !== base;
        return h('td', {
          class: `jp-mltrack-compare-value${
            differs ? ' jp-mltrack-compare-differs' : ''
          }${unknown ? ' jp-mltrack-muted jp-mltrack-compare-unknown' : ''}`,
          text,
          title: unknown
            ? `${row.key} is not recorded (yet): the run may still be running`
            : text
        });
      })
    );
  }
}

function rowAttrs(
  key: string,
  differs: boolean
): { [key: string]: string | boolean } {
  return {
    class: `jp-mltrack-compare-row${differs ? ' jp-mltrack-compare-row-differs' : ''}`,
    'data-key': key
  };
}

function changeSpan(change: ReturnType<typeof formatChange>): HTMLElement {
  return h(
    'span',
    { class: `jp-mltrack-compare-change ${change.className}` },
    change.arrow
      ? h('span', { class: 'jp-mltrack-compare-arrow', text: change.arrow })
      : null,
    change.text
  );
}

/** An attribute as people read it (durations, times). */
export function formatAttribute(key: string, value: JSONValue): string {
  if (value === null || value === undefined) {
    return '\u2014';
  }
  if (key === 'duration' && typeof value === 'number') {
    return formatDuration(value);
  }
  if ((key === 'start_time' || key === 'end_time') && value !== '') {
    if (typeof value === 'number') {
      return formatTimestamp(new Date(value * 1000).toISOString());
    }
    if (typeof value === 'string') {
      return formatTimestamp(value);
    }
  }
  return formatCell(value);
}
