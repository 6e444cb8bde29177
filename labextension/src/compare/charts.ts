import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

import { drawBundle } from '../artifacts/render';
import { clear, h } from '../dom';
import { PLOTLY_MIME } from '../model';
import {
  CHART_KINDS,
  ChartKind,
  ChartX,
  CompareChange,
  CompareModel,
  DEFAULT_CHART_OPTIONS,
  IChartOptions,
  IComparison,
  errorMessage
} from './model';
import { CompareTab, answerStatus } from './tab';

/**
 * What a chart shows when JupyterLab has no plotly renderer: how to get one
 * (the compare view's charts and the groups chart alike).
 */
export function noPlotlyMessage(): HTMLElement {
  return h(
    'div',
    { class: 'jp-mltrack-error jp-mltrack-compare-no-plotly' },
    `Charts need JupyterLab's plotly renderer (${PLOTLY_MIME}), which is not installed. ` +
      'Install the plotly Python package (5 or later) in the environment that runs JupyterLab, then reload the page.'
  );
}

/**
 * Draw a plotly figure in `panel` through rendermime's plotly renderer, in
 * place of the chart it shows (`drawBundle`: the old chart stays until the
 * new one is drawn, so a redraw never flashes empty). The figure takes the
 * panel's width, not the one it was built for. `false` when `stale()` says
 * a newer draw began meanwhile; a failure is thrown, the panel left as it was.
 */
export function drawFigure(
  rendermime: IRenderMimeRegistry,
  panel: Panel,
  figure: { layout?: { [key: string]: any }; [key: string]: any },
  className: string,
  stale: () => boolean
): Promise<boolean> {
  const layout: { [key: string]: any } = {
    ...(figure.layout || {}),
    autosize: true
  };
  delete layout.width;
  return drawBundle(
    rendermime,
    panel,
    { [PLOTLY_MIME]: { ...figure, layout } },
    PLOTLY_MIME,
    className,
    stale
  );
}

const KIND_LABELS: { [kind in ChartKind]: string } = {
  curves: 'Metric curves',
  bars: 'Bars of the metrics',
  parallel: 'Parallel coordinates',
  scatter: 'Scatter',
  importance: 'Parameter importance'
};

/**
 * Charts: plotly figures built by the server, rendered by JupyterLab's
 * rendermime through the plotly renderer (jupyterlab-plotly). plotly.js is
 * never bundled here.
 */
export class ChartsTab extends CompareTab {
  constructor(model: CompareModel, rendermime: IRenderMimeRegistry) {
    super(model, 'Charts', 'jp-mltrack-compare-charts');
    this._rendermime = rendermime;
    this._controls = new Widget();
    this._controls.addClass('jp-mltrack-compare-chart-controls');
    this._message = new Widget();
    this._message.addClass('jp-mltrack-compare-chart-message');
    this._chart = new Panel();
    this._chart.addClass('jp-mltrack-compare-chart');
    this.addWidget(this._controls);
    this.addWidget(this._message);
    this.addWidget(this._chart);
  }

  /** The chart's options (a copy). */
  get options(): IChartOptions {
    return { ...this._options };
  }

  /** Change the chart's options and redraw. */
  setOptions(options: Partial<IChartOptions>): void {
    this._options = { ...this._options, ...options };
    this._renderControls();
    void this._draw();
  }

  /** Whether JupyterLab can render plotly figures. */
  get canRender(): boolean {
    return this._rendermime.mimeTypes.includes(PLOTLY_MIME);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._token++;
    super.dispose();
  }

  protected render(change: CompareChange): void {
    const comparison = this.model.comparison;
    if (!comparison) {
      clear(this._controls.node);
      this._setMessage(answerStatus(this.model));
      return;
    }
    // Redraw when the runs' data changed (a live run logged more points),
    // or the compared runs; the options alone don't change on a poll.
    const key = JSON.stringify([
      comparison.runs.map(run => [run.id, run.status]),
      comparison.metrics.map(m => [m.key, m.values, m.max_step])
    ]);
    this._renderControls();
    if (key !== this._drawnKey) {
      void this._draw();
    }
  }

  private _renderControls(): void {
    const comparison = this.model.comparison;
    const node = this._controls.node;
    clear(node);
    if (!comparison) {
      return;
    }
    const options = this._options;
    const metrics = comparison.metrics.map(m => m.key);
    const params = comparison.params.map(p => p.key);

    const kind = select(
      'jp-mltrack-compare-chart-kind',
      'Chart',
      CHART_KINDS.map(k => [k, KIND_LABELS[k]]),
      options.kind,
      value => this.setOptions({ kind: value as ChartKind })
    );
    const controls: (HTMLElement | null)[] = [labelled('Chart', kind)];

    if (options.kind === 'curves') {
      controls.push(
        labelled(
          'x axis',
          select(
            'jp-mltrack-compare-chart-x',
            'x axis',
            [
              ['step', 'step'],
              ['relative', 'relative time'],
              ['wall', 'wall time']
            ],
            options.x,
            value => this.setOptions({ x: value as ChartX })
          )
        )
      );
      const smoothing = h('input', {
        type: 'range',
        class: 'jp-mltrack-compare-chart-smoothing',
        min: 0,
        max: 0.99,
        step: 0.01,
        'aria-label': 'Smoothing'
      });
      smoothing.value = String(options.smoothing);
      const smoothingValue = h('span', {
        class: 'jp-mltrack-compare-chart-smoothing-value',
        text: options.smoothing.toFixed(2)
      });
      smoothing.addEventListener('input', () => {
        smoothingValue.textContent = Number(smoothing.value).toFixed(2);
      });
      smoothing.addEventListener('change', () =>
        this.setOptions({ smoothing: Number(smoothing.value) })
      );
      controls.push(
        h(
          'label',
          { class: 'jp-mltrack-compare-chart-control' },
          'Smoothing ',
          smoothing,
          ' ',
          smoothingValue
        )
      );
    }
    if (options.kind === 'curves' || options.kind === 'bars') {
      const log = h('input', {
        type: 'checkbox',
        class: 'jp-mltrack-compare-chart-log'
      });
      log.checked = options.log;
      log.addEventListener('change', () =>
        this.setOptions({ log: log.checked })
      );
      controls.push(
        h(
          'label',
          { class: 'jp-mltrack-compare-chart-control' },
          log,
          ' Log scale'
        )
      );
    }
    if (options.kind === 'parallel' || options.kind === 'importance') {
      controls.push(
        labelled(
          options.kind === 'importance' ? 'Metric' : 'Colour by',
          select(
            'jp-mltrack-compare-chart-color',
            'Colour metric',
            [
              ...(options.kind === 'parallel'
                ? ([['', '(none)']] as [string, string][])
                : []),
              ...metrics.map(m => [m, m] as [string, string])
            ],
            options.color ??
              (options.kind === 'importance' ? (metrics[0] ?? '') : ''),
            value => this.setOptions({ color: value || null })
          )
        )
      );
    }
    if (options.kind === 'scatter') {
      const axes: [string, string][] = [
        ...params.map(p => [`params.${p}`, p] as [string, string]),
        ...metrics.map(m => [`metrics.${m}`, m] as [string, string])
      ];
      controls.push(
        labelled(
          'x',
          select(
            'jp-mltrack-compare-chart-scatter-x',
            'x',
            axes,
            options.scatterX ?? defaultScatterX(comparison) ?? '',
            value => this.setOptions({ scatterX: value })
          )
        ),
        labelled(
          'y',
          select(
            'jp-mltrack-compare-chart-scatter-y',
            'y',
            axes,
            options.scatterY ?? defaultScatterY(comparison) ?? '',
            value => this.setOptions({ scatterY: value })
          )
        )
      );
    }
    node.appendChild(
      h('div', { class: 'jp-mltrack-compare-controls' }, controls)
    );

    // Which metrics (curves, bars, parallel) and parameters (parallel).
    if (options.kind !== 'scatter' && options.kind !== 'importance') {
      node.appendChild(
        this._picker('Metrics', 'metrics', metrics, options.metrics)
      );
    }
    if (options.kind === 'parallel') {
      const varying = comparison.params.filter(p => p.differs).map(p => p.key);
      node.appendChild(
        this._picker('Parameters', 'params', params, options.params, varying)
      );
    }
  }

  /**
   * Checkboxes choosing keys; none checked means the server's default (all
   * metrics; the parameters that vary).
   */
  private _picker(
    title: string,
    option: 'metrics' | 'params',
    keys: string[],
    chosen: string[],
    defaults: string[] = keys
  ): HTMLElement {
    if (keys.length === 0) {
      return h('div', {
        class: 'jp-mltrack-muted',
        text: `No ${title.toLowerCase()}.`
      });
    }
    const shown = chosen.length ? chosen : defaults;
    return h(
      'fieldset',
      {
        class: `jp-mltrack-compare-picker jp-mltrack-compare-picker-${option}`
      },
      h('legend', { text: title }),
      keys.map(key => {
        const box = h('input', { type: 'checkbox', value: key });
        box.checked = shown.includes(key);
        box.addEventListener('change', () => {
          const next = box.checked
            ? [...shown.filter(k => k !== key), key]
            : shown.filter(k => k !== key);
          // Keep the order of the keys; all (or the defaults) is the default.
          const ordered = keys.filter(k => next.includes(k));
          const isDefault =
            ordered.length === defaults.length &&
            ordered.every(k => defaults.includes(k));
          this.setOptions({ [option]: isDefault ? [] : ordered });
        });
        return h('label', {}, box, ` ${key}`);
      })
    );
  }

  private async _draw(): Promise<void> {
    const comparison = this.model.comparison;
    if (!comparison) {
      return;
    }
    const token = ++this._token;
    if (!this.canRender) {
      this._clearChart();
      this._setMessage(noPlotlyMessage());
      return;
    }
    const options = { ...this._options };
    if (options.kind === 'scatter') {
      options.scatterX = options.scatterX ?? defaultScatterX(comparison);
      options.scatterY = options.scatterY ?? defaultScatterY(comparison);
    }
    if (options.kind === 'importance' && !options.color) {
      options.color = comparison.metrics[0]?.key ?? null;
    }
    this._drawnKey = JSON.stringify([
      comparison.runs.map(run => [run.id, run.status]),
      comparison.metrics.map(m => [m.key, m.values, m.max_step])
    ]);
    if (!this._chart.widgets.length) {
      this._setMessage(
        h('div', { class: 'jp-mltrack-loading', text: 'Drawing\u2026' })
      );
    }
    try {
      const figure = await this.model.chart(options);
      if (token !== this._token || this.isDisposed) {
        return;
      }
      const stale = () => token !== this._token || this.isDisposed;
      const drawn = await drawFigure(
        this._rendermime,
        this._chart,
        figure,
        'jp-mltrack-compare-plot',
        stale
      );
      if (!drawn) {
        return;
      }
      this._setMessage(null);
    } catch (reason) {
      if (token !== this._token || this.isDisposed) {
        return;
      }
      this._clearChart();
      this._setMessage(
        h('div', {
          class: 'jp-mltrack-error',
          text: `Cannot draw the chart: ${errorMessage(reason)}`
        })
      );
    }
  }

  private _clearChart(): void {
    for (const widget of this._chart.widgets.slice()) {
      widget.dispose();
    }
  }

  private _setMessage(content: HTMLElement | null): void {
    clear(this._message.node);
    if (content) {
      this._message.node.appendChild(content);
    }
    this._message.setHidden(!content);
  }

  private _rendermime: IRenderMimeRegistry;
  private _options: IChartOptions = { ...DEFAULT_CHART_OPTIONS };
  private _controls: Widget;
  private _message: Widget;
  private _chart: Panel;
  private _token = 0;
  private _drawnKey = '';
}

function select(
  className: string,
  label: string,
  choices: [string, string][],
  value: string,
  onChange: (value: string) => void
): HTMLSelectElement {
  const node = h('select', { class: className, 'aria-label': label });
  for (const [key, text] of choices) {
    const option = h('option', { value: key, text });
    option.selected = key === value;
    node.appendChild(option);
  }
  node.addEventListener('change', () => onChange(node.value));
  return node;
}

function labelled(text: string, control: HTMLElement): HTMLElement {
  return h(
    'label',
    { class: 'jp-mltrack-compare-chart-control' },
    `${text} `,
    control
  );
}

/** The first varying parameter (else the first metric). */
function defaultScatterX(comparison: IComparison): string | null {
  const param =
    comparison.params.find(p => p.differs) ?? comparison.params[0] ?? null;
  if (param) {
    return `params.${param.key}`;
  }
  const metric = comparison.metrics[0];
  return metric ? `metrics.${metric.key}` : null;
}

/** The first metric. */
function defaultScatterY(comparison: IComparison): string | null {
  const metric =
    comparison.metrics.find(m => m.differs) ?? comparison.metrics[0] ?? null;
  return metric ? `metrics.${metric.key}` : null;
}
