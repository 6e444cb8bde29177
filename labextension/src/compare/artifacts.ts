import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

import { PICTURE_MIMES, chooseMime } from '../artifacts/format';
import { clearPanel, drawBundle } from '../artifacts/render';
import { h } from '../dom';
import { PLOTLY_MIME } from '../model';
import { drawFigure, noPlotlyMessage } from './charts';
import {
  CompareChange,
  CompareModel,
  IArtifactImage,
  IArtifactRow,
  IComparison,
  artifactSideText,
  artifactStatusText,
  diffCounts,
  errorMessage,
  fileChangesText,
  visibleArtifacts
} from './model';
import { CompareTab, hunkBlock, muted, runHeader, stateBadge } from './tab';

/**
 * Artifacts: a row per artifact name the runs logged, with its status (the
 * same bytes in every run, changed, missing in some) and what each run
 * holds; below it, each changed text file diffed against the baseline's (as
 * hunks, like the outputs' text diffs), and images and figures side by side,
 * baseline first, drawn by rendermime from the previews the server makes
 * (a plotly figure by the plotly renderer: plotly.js is never bundled here).
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
                const changes = fileChangesText(row.file_changes[i] ?? null);
                const differs = state !== null && state !== 'same';
                return h(
                  'td',
                  {
                    class: `jp-mltrack-compare-value${differs ? ' jp-mltrack-compare-differs' : ''}`,
                    title: side?.files
                      .map(f => `${f.path} ${f.digest}`)
                      .join('\n')
                  },
                  h('span', { text: artifactSideText(side) }),
                  state ? stateBadge(state) : null,
                  changes && side && side.file_count > 1
                    ? h('span', {
                        class: 'jp-mltrack-compare-artifact-changes',
                        text: ` ${changes}`
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

  /** Fetch an image's preview and draw it in `frame` (unless re-rendered meanwhile). */
  private async _draw(
    frame: Panel,
    image: IArtifactImage,
    token: number
  ): Promise<void> {
    const stale = () => token !== this._token || frame.isDisposed;
    frame.addWidget(
      new Widget({
        node: h('div', { class: 'jp-mltrack-loading', text: 'Loading\u2026' })
      })
    );
    const show = (node: HTMLElement) => {
      clearPanel(frame);
      frame.addWidget(new Widget({ node }));
    };
    try {
      const preview = await this.model.artifactPreview(image);
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

  private _rendermime: IRenderMimeRegistry;
  /** Bumped at each render: previews of an older one are dropped. */
  private _token = 0;
}

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
