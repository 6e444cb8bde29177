import { Widget } from '@lumino/widgets';

import { clear, h } from '../dom';
import {
  CompareChange,
  CompareModel,
  IComparison,
  IExplanation,
  IFactor,
  errorMessage,
  explainHeadline,
  explainVerdict,
  explainedText,
  factorValuesText,
  formatSigned,
  verdictClass
} from './model';
import { CompareTab, muted, answerStatus } from './tab';

/**
 * Why?: pick a metric and two runs, read the ranked factors that explain
 * the metric's change (`GET compare/explain`).
 */
export class WhyTab extends CompareTab {
  constructor(model: CompareModel) {
    super(model, 'Why?', 'jp-mltrack-compare-why');
    this._controls = new Widget();
    this._controls.addClass('jp-mltrack-compare-controls');
    this._result = new Widget();
    this._result.addClass('jp-mltrack-compare-body');
    this.addWidget(this._controls);
    this.addWidget(this._result);
  }

  /** The current choice: metric and runs A and B (ids). */
  get choice(): { metric: string | null; a: string | null; b: string | null } {
    return { ...this._choice };
  }

  /** Explain `metric` from run `a` to run `b` (ids of compared runs). */
  async explain(
    metric: string,
    a: string,
    b: string
  ): Promise<IExplanation | null> {
    this._choice = { metric, a, b };
    this._renderControls();
    const token = ++this._token;
    clear(this._result.node);
    this._result.node.appendChild(
      h('div', {
        class: 'jp-mltrack-loading',
        text: 'Weighing the evidence\u2026'
      })
    );
    try {
      const explanation = await this.model.explain(a, b, metric);
      if (token !== this._token || this.isDisposed) {
        return null;
      }
      clear(this._result.node);
      this._result.node.appendChild(renderExplanation(explanation));
      return explanation;
    } catch (reason) {
      if (token === this._token && !this.isDisposed) {
        clear(this._result.node);
        this._result.node.appendChild(
          h('div', {
            class: 'jp-mltrack-error',
            text: `Cannot explain: ${errorMessage(reason)}`
          })
        );
      }
      return null;
    }
  }

  protected render(change: CompareChange): void {
    const comparison = this.model.comparison;
    if (!comparison) {
      clear(this._controls.node);
      clear(this._result.node);
      this._result.node.appendChild(answerStatus(this.model));
      return;
    }
    this._reconcile(comparison);
    this._renderControls();
    // The first time the tab is shown, answer the obvious question: the
    // first differing metric, from the baseline to the next run.
    const { metric, a, b } = this._choice;
    if (!this._asked && metric && a && b) {
      this._asked = true;
      void this.explain(metric, a, b);
    } else if (!this._asked) {
      clear(this._result.node);
      this._result.node.appendChild(
        muted('The runs have no metric to explain.')
      );
    }
  }

  /** Keep the choice valid for the runs and metrics now compared. */
  private _reconcile(comparison: IComparison): void {
    const ids = comparison.runs.map(run => run.id);
    const metrics = comparison.metrics.map(m => m.key);
    let { metric, a, b } = this._choice;
    if (!metric || !metrics.includes(metric)) {
      metric =
        comparison.metrics.find(m => m.differs)?.key ?? metrics[0] ?? null;
    }
    if (!a || !ids.includes(a)) {
      a = ids[0] ?? null;
    }
    if (!b || !ids.includes(b) || b === a) {
      b = ids.find(id => id !== a) ?? null;
    }
    this._choice = { metric, a, b };
  }

  private _renderControls(): void {
    const comparison = this.model.comparison;
    const node = this._controls.node;
    clear(node);
    if (!comparison) {
      return;
    }
    const metric = select(
      'jp-mltrack-compare-why-metric',
      'Metric',
      comparison.metrics.map(m => [m.key, m.key]),
      this._choice.metric
    );
    const runs: [string, string][] = comparison.runs.map(run => [
      run.id,
      run.label
    ]);
    const a = select('jp-mltrack-compare-why-a', 'Run A', runs, this._choice.a);
    const b = select('jp-mltrack-compare-why-b', 'Run B', runs, this._choice.b);
    const go = h('button', {
      class: 'jp-mltrack-button jp-mod-accept jp-mltrack-compare-why-explain',
      text: 'Explain',
      disabled: comparison.metrics.length === 0
    });
    go.addEventListener('click', () => {
      if (!metric.value || !a.value || !b.value) {
        return;
      }
      if (a.value === b.value) {
        clear(this._result.node);
        this._result.node.appendChild(
          h('div', {
            class: 'jp-mltrack-error',
            text: 'Pick two different runs.'
          })
        );
        return;
      }
      this._asked = true;
      void this.explain(metric.value, a.value, b.value);
    });
    node.appendChild(
      h(
        'span',
        {},
        h('label', {}, 'Why did ', metric),
        h('label', {}, ' change from ', a),
        h('label', {}, ' to ', b),
        ' ',
        go
      )
    );
  }

  private _controls: Widget;
  private _result: Widget;
  private _choice: {
    metric: string | null;
    a: string | null;
    b: string | null;
  } = {
    metric: null,
    a: null,
    b: null
  };
  private _asked = false;
  private _token = 0;
}

function select(
  className: string,
  label: string,
  choices: [string, string][],
  value: string | null
): HTMLSelectElement {
  const node = h('select', { class: className, 'aria-label': label });
  for (const [key, text] of choices) {
    const option = h('option', { value: key, text });
    option.selected = key === value;
    node.appendChild(option);
  }
  return node;
}

/** An explanation: headline, the explained share, the ranked factors. */
export function renderExplanation(explanation: IExplanation): HTMLElement {
  const verdict = explainVerdict(explanation);
  const share =
    explanation.explained === null || explanation.explained === undefined
      ? null
      : Math.max(0, Math.min(1, explanation.explained));
  const factors = explanation.factors || [];
  return h(
    'div',
    {
      class: 'jp-mltrack-compare-explanation',
      'data-metric': explanation.metric
    },
    h('div', {
      class: `jp-mltrack-compare-why-headline ${verdictClass(verdict)}`,
      text: explainHeadline(explanation)
    }),
    h(
      'div',
      { class: 'jp-mltrack-compare-explained' },
      share !== null
        ? h(
            'span',
            {
              class: 'jp-mltrack-compare-explained-bar',
              title: `${Math.round(share * 100)}%`
            },
            h('span', {
              class: 'jp-mltrack-compare-explained-fill',
              style: `width: ${Math.round(share * 100)}%`
            })
          )
        : null,
      h('span', { text: ` ${explainedText(explanation)}` }),
      h('span', {
        class: 'jp-mltrack-muted',
        text: ` ${explanation.runs_considered} run${
          explanation.runs_considered === 1 ? '' : 's'
        } considered${explanation.sklearn ? '' : '; no random-forest importance'}.`
      })
    ),
    factors.length
      ? h(
          'ol',
          { class: 'jp-mltrack-compare-factors' },
          factors.map(factor => renderFactor(factor))
        )
      : muted('Nothing differs between these runs.'),
    (explanation.groups || []).length
      ? h(
          'div',
          { class: 'jp-mltrack-compare-groups' },
          h('div', {
            class: 'jp-mltrack-section-title',
            text: 'Changed together'
          }),
          h(
            'ul',
            {},
            explanation.groups.map((group, i) =>
              h('li', { 'data-group': i, text: group.sentence })
            )
          )
        )
      : null,
    (explanation.notes || []).length
      ? h(
          'ul',
          { class: 'jp-mltrack-compare-notes' },
          explanation.notes.map(note =>
            h('li', { class: 'jp-mltrack-muted', text: note })
          )
        )
      : null
  );
}

function renderFactor(factor: IFactor): HTMLElement {
  const values = factorValuesText(factor);
  return h(
    'li',
    {
      class: `jp-mltrack-compare-factor jp-mltrack-compare-factor-${factor.status}`,
      'data-kind': factor.kind,
      'data-key': factor.key,
      'data-rank': factor.rank
    },
    h(
      'div',
      { class: 'jp-mltrack-compare-factor-head' },
      h('span', { class: 'jp-mltrack-compare-factor-kind', text: factor.kind }),
      h('code', { class: 'jp-mltrack-compare-factor-key', text: factor.key }),
      values
        ? h('span', { class: 'jp-mltrack-compare-factor-values', text: values })
        : null,
      factor.detail
        ? h('span', { class: 'jp-mltrack-muted', text: ` ${factor.detail}` })
        : null,
      h('span', { class: 'jp-mltrack-spacer' }),
      factor.estimate !== null && factor.estimate !== undefined
        ? h('span', {
            class: 'jp-mltrack-compare-factor-estimate',
            text: formatSigned(factor.estimate),
            title: 'expected change of the metric from this factor'
          })
        : null,
      h('span', {
        class: `jp-mltrack-compare-factor-status jp-mltrack-compare-status-${factor.status}`,
        text: factor.status
      })
    ),
    h('div', {
      class: 'jp-mltrack-compare-factor-sentence',
      text: factor.sentence
    })
  );
}
