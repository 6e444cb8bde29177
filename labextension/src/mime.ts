import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import { h, clear, OPEN_RUN_EVENT } from './dom';
import {
  IRunCard,
  RUN_CARD_MIME,
  describeDelta,
  formatDuration,
  cardMetricLabel,
  formatValue,
  runCardDeltasText,
  statusClass
} from './model';

/** Most metrics shown on a card. */
const MAX_CARD_METRICS = 6;

/**
 * Build the DOM of a compact run card.
 */
export function renderRunCard(card: IRunCard): HTMLElement {
  const metrics = Object.entries(card.metrics || {}).slice(0, MAX_CARD_METRICS);
  const deltas = card.deltas || {};
  const open = h('button', {
    class: 'jp-mltrack-card-number',
    title: card.number
      ? 'Open the run in the Runs panel'
      : 'Not in the store yet: numbered when written',
    text: card.number ? `#${card.number}` : '#?'
  });
  open.addEventListener('click', () => {
    open.dispatchEvent(
      new CustomEvent(OPEN_RUN_EVENT, {
        bubbles: true,
        detail: { runId: card.run_id }
      })
    );
  });

  const metricItems = metrics.map(([name, value]) => {
    const hasDelta = card.best !== null && name in deltas;
    const delta = hasDelta
      ? describeDelta(name, deltas[name], card.goals?.[name])
      : null;
    const deltaClass =
      delta === null
        ? ''
        : delta.improved === true
          ? 'jp-mltrack-delta jp-mltrack-delta-good'
          : delta.improved === false
            ? 'jp-mltrack-delta jp-mltrack-delta-bad'
            : 'jp-mltrack-delta jp-mltrack-delta-neutral';
    const arrow =
      delta?.direction === 'up'
        ? '\u25b2 '
        : delta?.direction === 'down'
          ? '\u25bc '
          : '';
    return h(
      'span',
      { class: 'jp-mltrack-card-metric', 'data-metric': name },
      h('span', {
        class: 'jp-mltrack-card-metric-name',
        text: cardMetricLabel(card, name)
      }),
      h('span', {
        class: 'jp-mltrack-card-metric-value',
        text: formatValue(value)
      }),
      delta &&
        h('span', {
          class: deltaClass,
          title: `${name}: change against run #${card.best?.number}`,
          text: `${arrow}${delta.text}`
        })
    );
  });

  return h(
    'div',
    { class: 'jp-mltrack-card-body' },
    h(
      'div',
      { class: 'jp-mltrack-card-header' },
      open,
      h('span', { class: 'jp-mltrack-card-name', text: card.name || '' }),
      h('span', {
        class: `jp-mltrack-status ${statusClass(card.status)}`,
        text: card.status
      }),
      h('span', {
        class: 'jp-mltrack-card-duration',
        text: formatDuration(card.duration)
      }),
      h('span', {
        class: 'jp-mltrack-card-experiment',
        title: 'Experiment',
        text: card.experiment
      })
    ),
    metricItems.length > 0 &&
      h('div', { class: 'jp-mltrack-card-metrics' }, metricItems),
    h('div', {
      class: 'jp-mltrack-card-best',
      text: runCardDeltasText(card)
    }),
    card.spooled &&
      h('div', { class: 'jp-mltrack-card-spooled', text: card.spooled })
  );
}

/**
 * A widget rendering `application/vnd.mltrack.run+json`.
 */
export class RunCardRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this._mimeType = options.mimeType;
    this.addClass('jp-mltrack-card');
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const card = model.data[this._mimeType] as unknown as IRunCard;
    clear(this.node);
    if (!card || typeof card !== 'object') {
      this.node.textContent = 'Invalid mltrack run card';
      return Promise.resolve();
    }
    this.node.dataset.runId = card.run_id;
    this.node.dataset.status = card.status;
    this.node.appendChild(renderRunCard(card));
    return Promise.resolve();
  }

  private _mimeType: string;
}

/**
 * The renderer factory: safe, since the card only ever sets text.
 */
export const rendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [RUN_CARD_MIME],
  defaultRank: 0,
  createRenderer: options => new RunCardRenderer(options)
};

/**
 * The mime extension of the run card.
 */
const extension: IRenderMime.IExtension = {
  id: 'jupyter-mltrack:run-card',
  description: 'Renders the mltrack run card shown after a tracked cell.',
  rendererFactory,
  rank: 0,
  dataType: 'json'
};

export default extension;
