import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

import { PICTURE_MIMES, chooseMime } from '../artifacts/format';
import { clearPanel, drawBundle } from '../artifacts/render';
import { indexAtOrBefore, stepLabel } from '../artifacts/series';
import { IArtifactPreview } from '../artifacts/types';
import { h } from '../dom';
import { PLOTLY_MIME, formatBytes } from '../model';
import { drawFigure, noPlotlyMessage } from './charts';
import {
  CompareChange,
  CompareModel,
  IArtifactImage,
  IArtifactRow,
  IArtifactStep,
  IComparison,
  artifactSideText,
  artifactStatusText,
  diffCounts,
  errorMessage,
  fileChangesText,
  tableChangeText,
  seriesAt,
  seriesCaption,
  seriesStops,
  visibleArtifacts
} from './model';
import { CompareTab, hunkBlock, muted, runHeader, stateBadge } from './tab';

/**
 * Artifacts: a row per artifact name the runs logged, with its status (the
 * same bytes in every run, changed, missing in some) and what each run
 * holds; below it, each changed text file diffed against the baseline's (as
 * hunks, like the outputs' text diffs), and images and figures side by side,
 * baseline first, drawn by rendermime from the previews the server makes
 * (a plotly figure by the plotly renderer: plotly.js is never bundled here);
 * a series (pictures logged at steps) side by side at the step a slider
 * picks.
 */
export class ArtifactsTab extends CompareTab {
  constructor(model: CompareModel, rendermime: IRenderMimeRegistry) {
    super(model, 'Artifacts', 'jp-mltrack-compare-artifacts');
    this._rendermime = rendermime;
  }

  protected render(change: CompareChange): void {
    // Previews are fetched and drawn: only again when the artifacts changed.
    const comparison = this.begin(c => [
      c.runs.map(run => run.id),
      c.artifacts ?? []
    ]);
    if (comparison === undefined) {
      return;
    }
    this._token++; // the previews still coming are for what is gone
    if (!comparison) {
      return;
    }
    const all = comparison.artifacts ?? [];
    const rows = visibleArtifacts(all, this.model.differencesOnly);
    if (rows.length === 0) {
      const text = all.length
        ? 'Every run logged the same artifacts, byte for byte.'
        : 'No artifacts logged.';
      this.addWidget(new Widget({ node: muted(text) }));
      return;
    }
    this.addWidget(new Widget({ node: this._table(comparison, rows) }));
    for (const row of rows) {
      const detail =
        row.view === 'image'
          ? this._images(comparison, row)
          : row.view === 'series'
            ? this._series(comparison, row)
            : this._diffs(comparison, row);
      if (detail) {
        this.addWidget(detail);
      }
    }
  }

  /** The table: a row per artifact, a column per run. */
  private _table(comparison: IComparison, rows: IArtifactRow[]): HTMLElement {
    const runs = comparison.runs;
    return h(
      'div',
      { class: 'jp-mltrack-compare-scroll' },
      h(
        'table',
        { class: 'jp-mltrack-compare-table jp-mltrack-compare-artifact-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { text: 'Artifact' }),
            runs.map((run, i) =>
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
                class: `jp-mltrack-compare-row${row.status === 'same' ? '' : ' jp-mltrack-compare-row-differs'}`,
                'data-name': row.name,
                'data-status': row.status
              },
              h(
                'td',
                { class: 'jp-mltrack-compare-key', title: row.name },
                h('span', { text: row.name }),
                h('span', {
                  class: `jp-mltrack-compare-artifact-status jp-mltrack-compare-artifact-status-${row.status}`,
                  text: row.status,
                  title: artifactStatusText(row, runs)
                })
              ),
              row.runs.map((side, i) => {
                const state = i === 0 ? null : (row.states[i] ?? null);
                // A series counts its steps, even of one: a step added to
                // a one-step series is news.
                const series = side?.step_count !== undefined;
                const changes = fileChangesText(
                  row.file_changes[i] ?? null,
                  series ? 'step' : 'file'
                );
                const differs = state !== null && state !== 'same';
                const cells = differs
                  ? tableChangeText(row.table_diffs?.[i])
                  : '';
                return h(
                  'td',
                  {
                    class: `jp-mltrack-compare-value${differs ? ' jp-mltrack-compare-differs' : ''}`,
                    title: series
                      ? `steps ${side?.first_step}\u2013${side?.last_step}`
                      : side?.files.map(f => `${f.path} ${f.digest}`).join('\n')
                  },
                  h('span', { text: artifactSideText(side) }),
                  state ? stateBadge(state) : null,
                  changes && side && (series || side.file_count > 1)
                    ? h('span', {
                        class: 'jp-mltrack-compare-artifact-changes',
                        text: ` ${changes}`
                      })
                    : null,
                  cells
                    ? h('div', {
                        class: 'jp-mltrack-compare-table-changes',
                        text: cells
                      })
                    : null
                );
              })
            )
          )
        )
      )
    );
  }

  /** A section titled with the artifact's name and status. */
  private _section(comparison: IComparison, row: IArtifactRow): Panel {
    const section = new Panel();
    section.addClass('jp-mltrack-compare-artifact');
    section.node.dataset.name = row.name;
    section.node.dataset.view = row.view;
    section.addWidget(
      new Widget({
        node: h(
          'h3',
          { class: 'jp-mltrack-compare-artifact-title' },
          h('span', { text: row.name }),
          h('span', {
            class: 'jp-mltrack-muted',
            text: ` \u00b7 ${artifactStatusText(row, comparison.runs)}`
          })
        )
      })
    );
    return section;
  }

  /** The run's changed text files diffed against the baseline's. */
  private _diffs(comparison: IComparison, row: IArtifactRow): Panel | null {
    const runs = comparison.runs;
    const blocks: HTMLElement[] = [];
    row.text_diffs.forEach((files, i) => {
      if (i === 0 || !files || files.length === 0) {
        return;
      }
      blocks.push(
        h(
          'div',
          {
            class: 'jp-mltrack-compare-artifact-diff',
            'data-run-id': runs[i].id
          },
          h('div', {
            class: 'jp-mltrack-compare-code-title',
            text: `${runs[0].label} \u2192 ${runs[i].label}`
          }),
          files.map(file =>
            h(
              'div',
              {
                class: 'jp-mltrack-compare-artifact-file',
                'data-path': file.path
              },
              h(
                'div',
                { class: 'jp-mltrack-compare-artifact-file-title' },
                h('span', { text: file.path }),
                file.diff
                  ? h('span', {
                      class: 'jp-mltrack-muted',
                      text: ` ${diffCounts(file.diff)}`
                    })
                  : null
              ),
              (file.diff?.hunks ?? []).map(hunk =>
                hunkBlock(hunk.header, hunk.lines)
              ),
              file.reason ? muted(file.reason) : null
            )
          )
        )
      );
    });
    if (blocks.length === 0) {
      return null;
    }
    const section = this._section(comparison, row);
    section.addWidget(new Widget({ node: h('div', {}, blocks) }));
    return section;
  }

  /** The runs' images or figures side by side, baseline first. */
  private _images(comparison: IComparison, row: IArtifactRow): Panel | null {
    if (!row.images.some(image => image)) {
      return null;
    }
    const runs = comparison.runs;
    const section = this._section(comparison, row);
    const grid = new Panel();
    grid.addClass('jp-mltrack-compare-artifact-images');
    grid.node.style.gridTemplateColumns = `repeat(${runs.length}, minmax(240px, 1fr))`;
    runs.forEach((run, i) => {
      const cell = new Panel();
      cell.addClass('jp-mltrack-compare-artifact-image');
      cell.node.dataset.runId = run.id;
      cell.addWidget(new Widget({ node: runHeader(run, i === 0) }));
      const image = row.images[i] ?? null;
      if (image) {
        const frame = new Panel();
        frame.addClass('jp-mltrack-compare-artifact-frame');
        cell.addWidget(frame);
        cell.addWidget(
          new Widget({
            node: muted(
              `${image.path} \u00b7 ${artifactSideText(row.runs[i] ?? null)}`,
              'jp-mltrack-compare-artifact-caption'
            )
          })
        );
        void this._draw(frame, image, this._token);
      } else {
        cell.addWidget(new Widget({ node: muted('not logged') }));
      }
      grid.addWidget(cell);
    });
    section.addWidget(grid);
    return section;
  }

  /**
   * A series: the runs' pictures side by side at the step a slider picks
   * (at first the last one), each run showing its last step at or before
   * it. Moving the slider redraws only the runs whose picture changes, the
   * old one kept until the new one is drawn; the step picked outlives a
   * re-render (a live run's new steps re-render the tab), unless it was the
   * last, which then follows the newest.
   */
  private _series(comparison: IComparison, row: IArtifactRow): Panel | null {
    const stops = seriesStops(row);
    if (stops.length === 0) {
      return null;
    }
    const runs = comparison.runs;
    const token = this._token;
    const section = this._section(comparison, row);
    section.addClass('jp-mltrack-compare-series');
    const picked = this._seriesSteps.get(row.name);
    let index =
      picked === undefined
        ? stops.length - 1
        : Math.max(0, indexAtOrBefore(stops, picked));
    const slider = h('input', {
      type: 'range',
      class: 'jp-mltrack-compare-series-slider',
      min: 0,
      max: stops.length - 1,
      step: 1,
      disabled: stops.length < 2,
      'aria-label': `Step of ${row.name}`
    });
    slider.value = String(index);
    const label = h('span', { class: 'jp-mltrack-compare-series-step' });
    section.addWidget(
      new Widget({
        node: h(
          'div',
          { class: 'jp-mltrack-compare-series-bar' },
          slider,
          label
        )
      })
    );

    const grid = new Panel();
    grid.addClass('jp-mltrack-compare-artifact-images');
    grid.node.style.gridTemplateColumns = `repeat(${runs.length}, minmax(240px, 1fr))`;
    const cells: ISeriesCell[] = runs.map((run, i) => {
      const cell = new Panel();
      cell.addClass('jp-mltrack-compare-artifact-image');
      cell.node.dataset.runId = run.id;
      const frame = new Panel();
      frame.addClass('jp-mltrack-compare-artifact-frame');
      const caption = muted('', 'jp-mltrack-compare-artifact-caption');
      cell.addWidget(new Widget({ node: runHeader(run, i === 0) }));
      cell.addWidget(frame);
      cell.addWidget(new Widget({ node: caption }));
      grid.addWidget(cell);
      return { node: cell.node, frame, caption, key: null, draws: 0 };
    });
    section.addWidget(grid);

    // The step and the captions follow the slider at once; the pictures
    // are fetched at most every SLIDER_DRAW_MS while it moves (dragging
    // across hundreds of steps would fetch each otherwise).
    const showStep = () => {
      const step = stops[index];
      section.node.dataset.step = String(step);
      label.textContent = stepLabel(step, stops);
      slider.setAttribute('aria-valuetext', `step ${step}`);
      seriesAt(row, step).forEach((at, i) => {
        const cell = cells[i];
        cell.caption.textContent = seriesCaption(row.steps?.[i], at, step);
        cell.caption.title = at
          ? `${at.entry.path} \u00b7 ${formatBytes(at.entry.size)}`
          : '';
        if (at) {
          cell.node.dataset.step = String(at.entry.step);
        } else {
          delete cell.node.dataset.step;
        }
      });
    };
    const draw = () => {
      seriesAt(row, stops[index]).forEach((at, i) => {
        const cell = cells[i];
        // The same bytes of the same run need no new picture.
        const key = at ? `${at.entry.run_id}\n${at.entry.digest}` : null;
        if (key === cell.key) {
          return;
        }
        const had = cell.key !== null;
        cell.key = key;
        const mine = ++cell.draws;
        if (!at) {
          clearPanel(cell.frame);
          return;
        }
        void this._draw(cell.frame, at.entry, token, {
          loading: !had,
          overtaken: () => mine !== cell.draws
        });
      });
    };
    showStep();
    draw();

    let timer: ReturnType<typeof setTimeout> | null = null;
    slider.addEventListener('input', () => {
      index = Number(slider.value);
      if (index === stops.length - 1) {
        this._seriesSteps.delete(row.name);
      } else {
        this._seriesSteps.set(row.name, stops[index]);
      }
      showStep();
      if (timer === null) {
        timer = setTimeout(() => {
          timer = null;
          if (!section.isDisposed) {
            draw();
          }
        }, SLIDER_DRAW_MS);
      }
    });
    return section;
  }

  /**
   * Fetch an image's preview and draw it in `frame`, unless re-rendered
   * meanwhile or `overtaken()` says a newer draw of the frame began (a
   * slider move's). A slider move's draw keeps the frame's picture until the
   * new one is drawn: no `loading` note in between.
   */
  private async _draw(
    frame: Panel,
    image: IArtifactImage,
    token: number,
    options: { loading?: boolean; overtaken?: () => boolean } = {}
  ): Promise<void> {
    const overtaken = options.overtaken ?? (() => false);
    const stale = () =>
      token !== this._token || frame.isDisposed || overtaken();
    if (options.loading ?? true) {
      frame.addWidget(
        new Widget({
          node: h('div', { class: 'jp-mltrack-loading', text: 'Loading\u2026' })
        })
      );
    }
    const show = (node: HTMLElement) => {
      clearPanel(frame);
      frame.addWidget(new Widget({ node }));
    };
    try {
      const preview = await this._preview(image);
      if (stale()) {
        return;
      }
      const bundle = preview.bundle;
      const mime = chooseMime(
        bundle,
        this._rendermime.mimeTypes,
        PICTURE_MIMES
      );
      if (!bundle || !mime) {
        show(
          bundle && PLOTLY_MIME in bundle
            ? noPlotlyMessage()
            : muted(preview.reason ?? `No preview of ${image.path}.`)
        );
        return;
      }
      if (mime === PLOTLY_MIME) {
        await drawFigure(
          this._rendermime,
          frame,
          sideBySide(bundle[PLOTLY_MIME] as { [key: string]: any }),
          'jp-mltrack-compare-artifact-plot',
          stale
        );
        return;
      }
      await drawBundle(
        this._rendermime,
        frame,
        bundle,
        mime,
        'jp-mltrack-compare-artifact-render',
        stale
      );
    } catch (reason) {
      if (!stale()) {
        show(
          h('div', {
            class: 'jp-mltrack-error',
            text: `Cannot show ${image.path}: ${errorMessage(reason)}`
          })
        );
      }
    }
  }

  /**
   * The preview of an image: a series' steps are kept (by their digest, so
   * never out of date) for a slider moved back and forth, the last
   * PREVIEWS_KEPT of them; any other image is fetched each time (its name
   * may hold new bytes by the next render).
   */
  private _preview(image: IArtifactImage): Promise<IArtifactPreview> {
    const digest = (image as Partial<IArtifactStep>).digest;
    if (digest === undefined) {
      return this.model.artifactPreview(image);
    }
    const key = [image.run_id, image.name, image.path, digest].join('\n');
    let preview = this._previews.get(key);
    if (preview) {
      this._previews.delete(key); // to the end: the most recently used
    } else {
      preview = this.model.artifactPreview(image);
      const kept = preview;
      // A failure is not kept: the next move asks again.
      kept.catch(() => {
        if (this._previews.get(key) === kept) {
          this._previews.delete(key);
        }
      });
    }
    this._previews.set(key, preview);
    while (this._previews.size > PREVIEWS_KEPT) {
      this._previews.delete(this._previews.keys().next().value!);
    }
    return preview;
  }

  private _rendermime: IRenderMimeRegistry;
  /** Bumped at each render: previews of an older one are dropped. */
  private _token = 0;
  /** The step picked on a series' slider, by series (none: its last). */
  private _seriesSteps = new Map<string, number>();
  /** Previews of series steps, least recently used first. */
  private _previews = new Map<string, Promise<IArtifactPreview>>();
}

/** A run's cell of a series: what it shows, and its latest draw. */
interface ISeriesCell {
  node: HTMLElement;
  frame: Panel;
  caption: HTMLElement;
  /** Run and digest of the picture shown (or being drawn); `null`: none. */
  key: string | null;
  /** Counts the cell's draws: an answer to an older one is dropped. */
  draws: number;
}

/** How often a moving series slider fetches its pictures, at most. */
const SLIDER_DRAW_MS = 80;

/** Series step previews kept for a slider moved back and forth. */
const PREVIEWS_KEPT = 48;

/**
 * A figure to draw in a column of its own: plotly's default margins (80 px
 * each side) and height (450 px) would leave a narrow column a sliver of
 * plot, so the figure gets small ones, unless it sets its own.
 */
function sideBySide(figure: { [key: string]: any }): { [key: string]: any } {
  const layout = { ...(figure?.layout ?? {}) };
  layout.margin ??= { l: 48, r: 16, t: 32, b: 40 };
  layout.height ??= 320;
  return { ...figure, layout };
}
