/**
 * The run detail's slider over a series' steps (`series.ts`): a range input
 * and its label, moved in place (`show`) so neither a live run's new steps
 * nor the step opened rebuild it under a user's drag.
 */

import { h } from '../dom';
import { IArtifactSeries, stepLabel } from './series';

/** How often a moving slider asks for the step it is at, at most. */
const STEP_MS = 80;

export class StepBar {
  /**
   * A bar over `series` at `index`; `onPick(index)` is called when the user
   * moves it, at most every STEP_MS while it moves (each pick fetches a
   * preview), the step it ends on last.
   */
  constructor(
    series: IArtifactSeries,
    index: number,
    onPick: (index: number) => void
  ) {
    this._slider = h('input', {
      type: 'range',
      class: 'jp-mltrack-artifact-step-slider',
      min: 0,
      step: 1,
      'aria-label': `Step of ${series.name}`
    });
    this._label = h('span', { class: 'jp-mltrack-artifact-step' });
    this.node = h(
      'div',
      { class: 'jp-mltrack-preview-bar jp-mltrack-artifact-stepbar' },
      h('span', { class: 'jp-mltrack-muted-inline', text: 'Step' }),
      this._slider,
      this._label
    );
    this.show(series, index);
    let timer: ReturnType<typeof setTimeout> | null = null;
    this._slider.addEventListener('input', () => {
      if (timer === null) {
        timer = setTimeout(() => {
          timer = null;
          if (this.node.isConnected) {
            onPick(Number(this._slider.value));
          }
        }, STEP_MS);
      }
    });
  }

  /** The bar's element (`data-step`: the step shown). */
  readonly node: HTMLElement;

  /** Show step `index` of `series` (which may have grown), in place. */
  show(series: IArtifactSeries, index: number): void {
    const step = series.steps[index];
    this._slider.max = String(series.members.length - 1);
    this._slider.value = String(index);
    this._slider.setAttribute('aria-valuetext', `step ${step}`);
    this._label.textContent = stepLabel(step, series.steps);
    this.node.dataset.step = String(step);
  }

  private _slider: HTMLInputElement;
  private _label: HTMLElement;
}
