import { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';

import { clear, h } from '../dom';
import { CompareChange, CompareModel, IComparison, ICompareRun } from './model';

/**
 * A tab of the compare view. It renders when the model changes while it is
 * shown, and once when it is shown after changes it missed: hidden tabs do
 * no work while a live comparison polls.
 */
export abstract class CompareTab extends Panel {
  constructor(model: CompareModel, label: string, className: string) {
    super();
    this.model = model;
    this.title.label = label;
    this.addClass('jp-mltrack-compare-tab');
    this.addClass(className);
    model.changed.connect(this._onModelChanged, this);
  }

  readonly model: CompareModel;

  /**
   * Whether what the tab shows changed since it last rendered: `part` of the
   * comparison (with the runs it needs), "differences only", or the error.
   * Views that are costly to build (merge views, rendered outputs) are rebuilt
   * only then, so a live comparison's polls stay cheap and the scroll position
   * stays where the user left it.
   */
  protected shownChanged(part: (comparison: IComparison) => unknown): boolean {
    const comparison = this.model.comparison;
    const key = comparison
      ? JSON.stringify([part(comparison), this.model.differencesOnly])
      : `error:${this.model.error}`;
    if (key === this._shownKey) {
      return false;
    }
    this._shownKey = key;
    return true;
  }

  /**
   * Start drawing `part` of the comparison: `undefined` when it did not
   * change (nothing to do); else what the tab showed is emptied and the
   * comparison is returned, or `null` once the loading or error message is
   * shown.
   */
  protected begin(
    part: (comparison: IComparison) => unknown
  ): IComparison | null | undefined {
    if (!this.shownChanged(part)) {
      return undefined;
    }
    this.clearContent();
    const comparison = this.model.comparison;
    if (!comparison) {
      this.showContent(answerStatus(this.model));
      return null;
    }
    return comparison;
  }

  /** Empty what the tab shows (here: dispose of its widgets). */
  protected clearContent(): void {
    for (const widget of this.widgets.slice()) {
      widget.dispose();
    }
  }

  /** Add `node` to what the tab shows (here: as a widget of its own). */
  protected showContent(node: HTMLElement): void {
    this.addWidget(new Widget({ node }));
  }

  /** Render now if shown, else when next shown. */
  invalidate(change: CompareChange = 'comparison'): void {
    if (this.isVisible) {
      this._dirty = false;
      this.render(change);
    } else {
      this._dirty = true;
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.changed.disconnect(this._onModelChanged, this);
    super.dispose();
  }

  /** Bring the tab up to date with the model. */
  protected abstract render(change: CompareChange): void;

  /** Which model changes this tab renders (default: answers and options). */
  protected wants(change: CompareChange): boolean {
    return change === 'comparison' || change === 'options';
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (this._dirty) {
      this._dirty = false;
      this.render('comparison');
    }
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this._dirty && this.isVisible) {
      this._dirty = false;
      this.render('comparison');
    }
  }

  private _onModelChanged(_: CompareModel, change: CompareChange): void {
    if (this.wants(change)) {
      this.invalidate(change);
    }
  }

  private _dirty = true;
  private _shownKey = '';
}

/** A tab that draws into one scrolling body node. */
export abstract class BodyTab extends CompareTab {
  constructor(model: CompareModel, label: string, className: string) {
    super(model, label, className);
    this.body = new Widget();
    this.body.addClass('jp-mltrack-compare-body');
    this.addWidget(this.body);
  }

  protected clearContent(): void {
    clear(this.body.node);
  }

  protected showContent(node: HTMLElement): void {
    this.body.node.appendChild(node);
  }

  protected readonly body: Widget;
}

/** The header cell of a run: its label, name and status. */
export function runHeader(run: ICompareRun, baseline: boolean): HTMLElement {
  return h(
    'span',
    { class: 'jp-mltrack-compare-run' },
    h('span', { class: 'jp-mltrack-compare-run-label', text: run.label }),
    run.name
      ? h('span', { class: 'jp-mltrack-compare-run-name', text: run.name })
      : null,
    h('span', {
      class: `jp-mltrack-status jp-mltrack-status-${run.status}`,
      text: run.status
    }),
    baseline
      ? h('span', {
          class: 'jp-mltrack-compare-baseline-badge',
          text: 'baseline'
        })
      : null
  );
}

/** A run's data state against the baseline (`changed`, `missing`, …) as a badge. */
export function stateBadge(state: string): HTMLElement {
  return h('span', {
    class: `jp-mltrack-compare-state jp-mltrack-compare-state-${state}`,
    text: state
  });
}

/** A muted line, e.g. "No code recorded." */
export function muted(text: string, className = ''): HTMLElement {
  return h('div', {
    class: className ? `jp-mltrack-muted ${className}` : 'jp-mltrack-muted',
    text
  });
}

/** What the tab shows instead of an answer: loading, or the request's error. */
export function answerStatus(model: CompareModel): HTMLElement {
  if (model.error) {
    return h('div', {
      class: 'jp-mltrack-error jp-mltrack-compare-error',
      text: model.error
    });
  }
  return h('div', {
    class: 'jp-mltrack-loading',
    text: 'Comparing runs\u2026'
  });
}

/** A unified diff hunk as coloured lines. */
export function hunkBlock(header: string, lines: string[]): HTMLElement {
  return h(
    'pre',
    { class: 'jp-mltrack-compare-hunk' },
    h('span', { class: 'jp-mltrack-compare-hunk-header', text: `${header}\n` }),
    lines.map(line =>
      h('span', {
        class: line.startsWith('+')
          ? 'jp-mltrack-compare-line-added'
          : line.startsWith('-')
            ? 'jp-mltrack-compare-line-removed'
            : 'jp-mltrack-compare-line-context',
        text: `${line}\n`
      })
    )
  );
}
