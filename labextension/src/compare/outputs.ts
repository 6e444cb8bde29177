import { IRenderMimeRegistry, OutputModel } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

import { h } from '../dom';
import {
  CompareChange,
  CompareModel,
  IComparison,
  outputCutNote
} from './model';
import { CompareTab, hunkBlock, muted, runHeader } from './tab';

/**
 * Outputs: each run's cell outputs side by side, aligned by position and
 * rendered by JupyterLab's rendermime as an output area would.
 */
export class OutputsTab extends CompareTab {
  constructor(model: CompareModel, rendermime: IRenderMimeRegistry) {
    super(model, 'Outputs', 'jp-mltrack-compare-outputs');
    this._rendermime = rendermime;
  }

  protected render(change: CompareChange): void {
    // Rendering outputs is costly and resets scroll: only when they changed.
    const comparison = this.begin(c => [c.runs.map(run => run.id), c.outputs]);
    if (comparison) {
      this._render(comparison);
    }
  }

  private _render(comparison: IComparison): void {
    const runs = comparison.runs;
    const columns = `repeat(${runs.length}, minmax(240px, 1fr))`;
    const header = new Widget({
      node: h(
        'div',
        {
          class: 'jp-mltrack-compare-output-grid jp-mltrack-compare-output-head'
        },
        runs.map((run, i) => runHeader(run, i === 0))
      )
    });
    header.node.style.gridTemplateColumns = columns;
    this.addWidget(header);

    const rows = (comparison.outputs || []).filter(
      row => !this.model.differencesOnly || !row.same
    );
    if (rows.length === 0) {
      this.addWidget(
        new Widget({
          node: muted(
            comparison.outputs?.length
              ? 'Every run shows the same outputs.'
              : 'No outputs recorded.'
          )
        })
      );
      return;
    }
    for (const row of rows) {
      const line = new Panel();
      line.addClass('jp-mltrack-compare-output-grid');
      line.addClass('jp-mltrack-compare-output-row');
      if (!row.same) {
        line.addClass('jp-mltrack-compare-row-differs');
      }
      line.node.dataset.index = String(row.index);
      line.node.style.gridTemplateColumns = columns;
      runs.forEach((run, i) => {
        const cell = new Panel();
        cell.addClass('jp-mltrack-compare-output-cell');
        const output = row.items?.[i] ?? null;
        if (output) {
          cell.addWidget(this._renderOutput(output));
          const note = outputCutNote(output.mltrack_cut);
          if (note) {
            cell.addWidget(
              new Widget({ node: muted(note, 'jp-mltrack-compare-output-cut') })
            );
          }
        } else {
          cell.addWidget(new Widget({ node: muted('\u2014') }));
        }
        const diff = row.text_diffs?.[i] ?? null;
        if (i > 0 && diff && !diff.same && diff.hunks?.length) {
          cell.addWidget(
            new Widget({
              node: h(
                'details',
                { class: 'jp-mltrack-compare-text-diff' },
                h('summary', { text: `Text diff against ${runs[0].label}` }),
                diff.hunks.map(hunk => hunkBlock(hunk.header, hunk.lines))
              )
            })
          );
        }
        line.addWidget(cell);
      });
      this.addWidget(line);
    }
  }

  /** An nbformat output rendered by its preferred MIME type. */
  private _renderOutput(output: { [key: string]: any }): Widget {
    try {
      const model = new OutputModel({ value: output as any, trusted: false });
      const mime = this._rendermime.preferredMimeType(model.data, 'ensure');
      if (!mime) {
        return new Widget({
          node: muted(
            `No renderer for ${Object.keys(model.data).join(', ') || 'this output'}.`
          )
        });
      }
      const renderer = this._rendermime.createRenderer(mime);
      renderer.addClass('jp-OutputArea-output');
      void renderer.renderModel(model).catch(reason => {
        renderer.node.textContent = `Cannot render ${mime}: ${reason}`;
      });
      return renderer;
    } catch (reason) {
      return new Widget({
        node: muted(`Cannot render this output: ${reason}`)
      });
    }
  }

  private _rendermime: IRenderMimeRegistry;
}
