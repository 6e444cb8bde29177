/**
 * The runs sidebar's filter box: the text is applied once typing pauses
 * (Enter applies at once), and a query the server refused is shown under the
 * box, the query echoed with a caret under the column the server named.
 */

import { clear, h } from './dom';
import { IQueryError } from './runlist/api';
import { Debouncer, describeQueryError } from './runlist/filter';

export class FilterBox {
  /** @param onApply called with the trimmed text to filter by */
  constructor(onApply: (text: string) => void) {
    this._debouncer = new Debouncer<string>(onApply);
    this.input = h('input', {
      type: 'search',
      class: 'jp-mltrack-search',
      placeholder: 'Filter: name, #, tag\u2026 or params.lr < 0.01',
      title:
        'Words match a run\u2019s name, number, tags or status; a query such as\n' +
        'params.lr < 0.01 and (metrics.acc.max >= 0.9 or tags.stage = "tuning")\n' +
        'filters on anything recorded; used = "churn/2" finds the runs that\n' +
        'loaded a model',
      'aria-label': 'Filter runs',
      'aria-describedby': 'jp-mltrack-query-error',
      spellcheck: 'false',
      autocomplete: 'off'
    });
    this.input.addEventListener('input', () =>
      this._debouncer.schedule(this.input.value.trim())
    );
    this.input.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        event.preventDefault();
        this._debouncer.schedule(this.input.value.trim());
        this._debouncer.flush();
      }
    });
    this.error = h('div', {
      class: 'jp-mltrack-query-error',
      id: 'jp-mltrack-query-error',
      role: 'alert'
    });
    this.error.hidden = true;
  }

  /** The text box (`.jp-mltrack-search`). */
  readonly input: HTMLInputElement;

  /** Where a refused query's error shows (`.jp-mltrack-query-error`). */
  readonly error: HTMLDivElement;

  /**
   * Show a text the sidebar set (a group opened narrows the filter): it is
   * what the list is filtered by from now on, so what was being typed and
   * not applied yet is dropped.
   */
  setText(text: string): void {
    this._debouncer.dispose();
    this.input.value = text;
  }

  /** Show the error of a refused query (`null`: none). */
  showError(refused: { text: string; error: IQueryError } | null): void {
    const key = refused ? JSON.stringify(refused) : '';
    if (key === this._shown) {
      return;
    }
    this._shown = key;
    this.input.classList.toggle('jp-mod-invalid', refused !== null);
    this.input.setAttribute('aria-invalid', String(refused !== null));
    clear(this.error);
    this.error.hidden = refused === null;
    if (!refused) {
      return;
    }
    const view = describeQueryError(refused.text, refused.error);
    this.error.append(
      h('div', { class: 'jp-mltrack-query-error-message', text: view.message }),
      h('pre', {
        class: 'jp-mltrack-query-error-echo',
        text: `${view.excerpt}\n${view.caret}`
      })
    );
  }

  /** Stop applying what was typed. */
  dispose(): void {
    this._debouncer.dispose();
  }

  private _debouncer: Debouncer<string>;
  private _shown = '';
}
