import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { OutputAreaModel, SimplifiedOutputArea } from '@jupyterlab/outputarea';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import { Panel, Widget } from '@lumino/widgets';

import { ArtifactsSection } from './artifacts/section';
import { usedBySection, usedSection } from './artifacts/usedsections';
import { clear, h, OPEN_DATASET_EVENT } from './dom';
import { inputDatasetLabel } from './datasets/format';
import { deleteRun, patchRun, requestAPI } from './handler';
import { runsIcon } from './icons';
import {
  IMetricPoint,
  IRunDataItem,
  IRunDetail,
  IRunSummary,
  ISnapshotRows,
  formatBytes,
  formatDuration,
  formatShape,
  formatTags,
  formatTimestamp,
  formatValue,
  parseTags,
  runData,
  snapshotRowsQuery,
  statusClass,
  userTags
} from './model';
import {
  factList,
  keyValueTable,
  renderEnvironment,
  rowsPage,
  section,
  sparkline
} from './sections';

/** Most points of a metric series listed in its table. */
const MAX_SERIES_ROWS = 50;

/** Rows of a dataset preview page. */
const PREVIEW_ROWS = 50;

/**
 * The dataset version an input was got as (`@3f2a9c1b0d4e`): a
 * link that opens it in the Datasets view (the row's own click previews).
 */
function datasetBadge(name: string, ref: string): HTMLElement {
  const link = h('a', {
    class: 'jp-mltrack-data-dataset',
    href: '#',
    text: inputDatasetLabel(name, ref),
    title: `Got as ${ref} (mltrack.datasets.get): open it in the Datasets view`
  });
  link.addEventListener('click', event => {
    event.preventDefault();
    event.stopPropagation();
    link.dispatchEvent(
      new CustomEvent(OPEN_DATASET_EVENT, { bubbles: true, detail: { ref } })
    );
  });
  return link;
}

/**
 * The detail of one run, opened in the main area.
 */
export class RunDetailWidget extends Panel {
  constructor(options: RunDetailWidget.IOptions) {
    super();
    this.runId = options.runId;
    this._rendermime = options.rendermime;
    this._onExport = options.onExport ?? null;
    this.id = `jp-mltrack-run-${options.runId}`;
    this.addClass('jp-mltrack-detail');
    this.title.icon = runsIcon;
    this.title.label = 'Run';
    this.title.closable = true;

    this._top = new Widget();
    this._top.addClass('jp-mltrack-detail-top');
    this._outputsHeader = new Widget({
      node: h('h3', { class: 'jp-mltrack-section-title', text: 'Cell outputs' })
    });
    this._outputsModel = new OutputAreaModel({ trusted: false });
    this._outputs = new SimplifiedOutputArea({
      model: this._outputsModel,
      rendermime: this._rendermime
    });
    this._outputs.addClass('jp-mltrack-outputs');
    this._bottom = new Widget();
    this._bottom.addClass('jp-mltrack-detail-bottom');

    // What the run logged: files, figures, models (see src/artifacts/).
    this._artifacts = new ArtifactsSection({
      rendermime: this._rendermime,
      onChanged: () => void this.load()
    });

    this.addWidget(this._top);
    this.addWidget(this._artifacts);
    this.addWidget(this._outputsHeader);
    this.addWidget(this._outputs);
    this.addWidget(this._bottom);
    this._top.node.appendChild(
      h('div', { class: 'jp-mltrack-loading', text: 'Loading run…' })
    );
  }

  /** Id of the run shown. */
  readonly runId: string;

  /** The run last loaded. */
  get run(): IRunDetail | null {
    return this._run;
  }

  /** Emitted after the run was changed (PATCH) or deleted. */
  get changed(): ISignal<this, 'updated' | 'deleted'> {
    return this._changed;
  }

  /** Load the run from the server and render it. */
  async load(): Promise<void> {
    try {
      const run = await requestAPI<IRunDetail>(
        `runs/${encodeURIComponent(this.runId)}`
      );
      this._render(run);
    } catch (reason) {
      clear(this._top.node);
      this._top.node.appendChild(
        h('div', {
          class: 'jp-mltrack-error',
          text: `Cannot load run: ${(reason as Error).message ?? reason}`
        })
      );
    }
  }

  /**
   * Reload when the listed summary of the run differs from what is shown
   * (e.g. a running run finished), unless the user is editing.
   */
  maybeReload(summary: IRunSummary | undefined): void {
    if (!summary || !this._run || this._editing()) {
      return;
    }
    const shown = this._run;
    const same =
      summary.status === shown.status &&
      summary.end_time === shown.end_time &&
      summary.name === shown.name &&
      summary.note === shown.note &&
      JSON.stringify(summary.metrics) === JSON.stringify(shown.metrics) &&
      JSON.stringify(summary.tags) === JSON.stringify(shown.tags);
    if (!same) {
      void this.load();
    }
  }

  protected onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    if (!this.node.contains(document.activeElement)) {
      this.node.focus();
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._outputsModel.dispose();
    Signal.clearData(this);
    super.dispose();
  }

  private _editing(): boolean {
    const active = document.activeElement;
    return (
      !!active &&
      this._top.node.contains(active) &&
      (active.tagName === 'TEXTAREA' || active.tagName === 'INPUT')
    );
  }

  private _render(run: IRunDetail): void {
    this._run = run;
    this.node.tabIndex = -1;
    this.title.label = `Run #${run.number}${run.name ? ` ${run.name}` : ''}`;
    this.title.caption = `${run.experiment} \u00b7 run #${run.number} \u00b7 ${run.status}`;
    this.node.dataset.runId = run.id;
    this.node.dataset.status = run.status;

    // Top: header, annotations, params, metrics, error.
    const top = this._top.node;
    clear(top);
    top.appendChild(this._renderHeader(run));
    top.appendChild(this._renderAnnotations(run));
    top.appendChild(
      section(
        'Parameters',
        'jp-mltrack-params',
        keyValueTable(run.params, 'No parameters captured.')
      )
    );
    top.appendChild(
      section('Metrics', 'jp-mltrack-metrics', this._renderMetrics(run))
    );
    // The datasets the run read and wrote; a click previews one.
    const data = runData(run);
    top.appendChild(
      this._renderData(
        'Inputs',
        'jp-mltrack-inputs',
        data.inputs,
        'No datasets read.'
      )
    );
    top.appendChild(
      this._renderData(
        'Outputs',
        'jp-mltrack-data-outputs',
        data.outputs,
        'No datasets written.'
      )
    );
    // What it loaded from other runs, and the runs that loaded its artifacts.
    for (const node of [usedSection(run.used), usedBySection(run.used_by)]) {
      if (node) {
        top.appendChild(node);
      }
    }
    if (run.error) {
      top.appendChild(
        section(
          'Error',
          'jp-mltrack-run-error',
          h('pre', {
            class: 'jp-mltrack-error-text',
            text: `${run.error.ename}: ${run.error.evalue}`
          })
        )
      );
    }

    this._artifacts.setRun(run);

    // Outputs, rendered by JupyterLab's own rendermime.
    this._outputsModel.clear();
    const outputs = Array.isArray(run.outputs) ? run.outputs : [];
    for (const output of outputs) {
      try {
        this._outputsModel.add(output as any);
      } catch (reason) {
        console.warn('mltrack: skipping an invalid output', reason);
      }
    }
    this._outputsHeader.node.textContent = `Cell outputs (${outputs.length})`;
    this._outputsHeader.setHidden(outputs.length === 0);
    this._outputs.setHidden(outputs.length === 0);

    // Bottom: code, environment.
    const bottom = this._bottom.node;
    clear(bottom);
    bottom.appendChild(
      section(
        'Code',
        'jp-mltrack-code',
        h('pre', { class: 'jp-mltrack-code-text', text: run.code || '' })
      )
    );
    bottom.appendChild(
      section('Environment', 'jp-mltrack-env', renderEnvironment(run))
    );

    // A preview open before this render (a reload, a save) stays open.
    const open = this._preview;
    this._preview = null;
    if (open) {
      const item = [...data.inputs, ...data.outputs].find(
        d => d.role === open.item.role && d.name === open.item.name
      );
      if (item) {
        void this._showPreview(
          item,
          item.digest === open.item.digest ? open.offset : 0
        );
      }
    }
  }

  private _renderData(
    title: string,
    className: string,
    items: IRunDataItem[],
    emptyText: string
  ): HTMLElement {
    if (items.length === 0) {
      return section(
        title,
        className,
        h('div', { class: 'jp-mltrack-muted', text: emptyText })
      );
    }
    const body = h('tbody');
    for (const item of items) {
      const label = item.kind === 'file' ? (item.path ?? item.name) : item.name;
      const row = h(
        'tr',
        {
          class: 'jp-mltrack-data-row',
          tabindex: 0,
          'data-role': item.role,
          'data-name': item.name,
          'data-digest': item.digest,
          title: `Preview ${label}`
        },
        h(
          'td',
          { class: 'jp-mltrack-data-name', title: label },
          item.name,
          item.dataset ? datasetBadge(item.name, item.dataset) : null
        ),
        h('td', { class: 'jp-mltrack-data-kind', text: item.kind }),
        h('td', { class: 'jp-mltrack-data-shape', text: formatShape(item) }),
        h('td', {
          class: 'jp-mltrack-data-digest',
          text: item.short,
          title: item.digest
        }),
        h(
          'td',
          {},
          h('span', {
            class: `jp-mltrack-snapshot-status jp-mltrack-snapshot-${item.status}`,
            text: item.status
          })
        )
      );
      row.addEventListener('click', () => void this._togglePreview(item));
      row.addEventListener('keydown', event => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          void this._togglePreview(item);
        }
      });
      body.appendChild(row);
    }
    const table = h(
      'table',
      { class: 'jp-mltrack-kv jp-mltrack-data-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { text: 'Name' }),
          h('th', { text: 'Kind' }),
          h('th', { text: 'Shape' }),
          h('th', { text: 'Digest' }),
          h('th', { text: 'Status' })
        )
      ),
      body
    );
    return section(title, className, h('div', {}, table));
  }

  /** Open the preview of a dataset, or close it if it is the one open. */
  private async _togglePreview(item: IRunDataItem): Promise<void> {
    const open = this._preview;
    if (open && open.item.role === item.role && open.item.name === item.name) {
      this._closePreview();
      return;
    }
    await this._showPreview(item, 0);
  }

  private _closePreview(): void {
    this._preview = null;
    this._previewToken++;
    this._top.node
      .querySelectorAll('.jp-mltrack-data-preview')
      .forEach(node => node.remove());
    this._top.node
      .querySelectorAll('.jp-mltrack-data-row.jp-mod-selected')
      .forEach(node => node.classList.remove('jp-mod-selected'));
  }

  /**
   * Show rows `[offset, offset + PREVIEW_ROWS)` of a dataset under its table:
   * a loading line first, then the rows or the server's reason (a snapshot
   * still being stored, one that failed). A file shows its name and size.
   */
  private async _showPreview(
    item: IRunDataItem,
    offset: number
  ): Promise<void> {
    this._closePreview();
    const row = Array.from(
      this._top.node.querySelectorAll<HTMLElement>('.jp-mltrack-data-row')
    ).find(r => r.dataset.role === item.role && r.dataset.name === item.name);
    const table = row?.closest('table');
    if (!row || !table) {
      return;
    }
    row.classList.add('jp-mod-selected');
    this._preview = { item, offset };
    const token = ++this._previewToken;
    const close = h('button', {
      class: 'jp-mltrack-icon-button jp-mltrack-preview-close',
      text: '\u00d7',
      title: 'Close the preview',
      'aria-label': 'Close the preview'
    });
    close.addEventListener('click', () => this._closePreview());
    const content = h('div', { class: 'jp-mltrack-preview-content' });
    const panel = h(
      'div',
      {
        class: 'jp-mltrack-data-preview',
        'data-role': item.role,
        'data-name': item.name,
        'data-digest': item.digest
      },
      h(
        'div',
        { class: 'jp-mltrack-preview-header' },
        h('span', { class: 'jp-mltrack-preview-title', text: item.name }),
        h('span', { class: 'jp-mltrack-preview-digest', text: item.short }),
        h('span', { class: 'jp-mltrack-spacer' }),
        close
      ),
      content
    );
    table.insertAdjacentElement('afterend', panel);

    if (item.kind === 'file') {
      content.appendChild(
        h(
          'div',
          { class: 'jp-mltrack-data-file' },
          h(
            'div',
            {},
            h('span', { text: 'File ' }),
            h('code', { class: 'jp-mltrack-data-file-name', text: item.name }),
            h('span', {
              class: 'jp-mltrack-data-file-size',
              text: ` \u00b7 ${formatBytes(item.nbytes)}`
            })
          ),
          item.path && item.path !== item.name
            ? h('div', { class: 'jp-mltrack-data-file-path', text: item.path })
            : null
        )
      );
      return;
    }
    content.appendChild(
      h('div', { class: 'jp-mltrack-loading', text: 'Loading rows\u2026' })
    );
    let page: ISnapshotRows;
    try {
      page = await requestAPI<ISnapshotRows>(
        snapshotRowsQuery(item.digest, offset, PREVIEW_ROWS)
      );
    } catch (reason) {
      if (token === this._previewToken) {
        clear(content);
        content.appendChild(
          h('div', {
            class: 'jp-mltrack-error',
            text: `Cannot preview ${item.name}: ${(reason as Error).message ?? reason}`
          })
        );
      }
      return;
    }
    if (token !== this._previewToken) {
      return; // another dataset was opened meanwhile
    }
    clear(content);
    content.appendChild(
      rowsPage(
        page,
        PREVIEW_ROWS,
        offset => void this._showPreview(item, offset)
      )
    );
  }

  private _renderHeader(run: IRunDetail): HTMLElement {
    const deleteButton = h('button', {
      class: 'jp-mltrack-button jp-mod-warn jp-mltrack-delete',
      text: 'Delete',
      title: 'Delete this run and everything recorded with it'
    });
    deleteButton.addEventListener('click', () => void this._delete());
    const reload = h('button', {
      class: 'jp-mltrack-button jp-mltrack-reload',
      text: 'Reload'
    });
    reload.addEventListener('click', () => void this.load());
    let exportButton: HTMLButtonElement | null = null;
    const onExport = this._onExport;
    if (onExport) {
      exportButton = h('button', {
        class: 'jp-mltrack-button jp-mltrack-export',
        text: 'Export',
        title:
          "Export to pipeline: write pipeline.py, params.yaml and requirements.txt beside the run's notebook"
      });
      exportButton.addEventListener('click', () => onExport(run.id));
    }

    const facts: [string, string][] = [
      ['Experiment', run.experiment],
      ['Notebook', run.notebook_path ?? '—'],
      ['Started', formatTimestamp(run.start_time)],
      ['Ended', formatTimestamp(run.end_time)],
      ['Duration', formatDuration(run.duration)],
      ['Execution count', run.execution_count?.toString() ?? '—'],
      ['Source', run.source ?? '—']
    ];
    if (run.parent_run_id) {
      facts.push(['Parent run', run.parent_run_id]);
    }
    return h(
      'div',
      { class: 'jp-mltrack-detail-header' },
      h(
        'div',
        { class: 'jp-mltrack-detail-title' },
        h('span', {
          class: 'jp-mltrack-detail-number',
          text: `#${run.number}`
        }),
        h('span', { class: 'jp-mltrack-detail-name', text: run.name }),
        h('span', {
          class: `jp-mltrack-status ${statusClass(run.status)}`,
          text: run.status
        }),
        h('span', { class: 'jp-mltrack-spacer' }),
        exportButton,
        reload,
        deleteButton
      ),
      factList(facts),
      h(
        'div',
        { class: 'jp-mltrack-tags' },
        formatTags(run.tags).map(tag =>
          h('span', { class: 'jp-mltrack-tag', text: tag })
        )
      )
    );
  }

  private _renderAnnotations(run: IRunDetail): HTMLElement {
    const name = h('input', {
      class: 'jp-mltrack-name-input',
      type: 'text',
      'aria-label': 'Run name'
    });
    name.value = run.name;
    const tags = h('input', {
      class: 'jp-mltrack-tags-input',
      type: 'text',
      placeholder: 'baseline, lr=0.1',
      'aria-label': 'Tags'
    });
    // the tracker's own tags (shown above with the others) are not the user's to edit
    const editable = userTags(run.tags);
    tags.value = formatTags(editable).join(', ');
    const note = h('textarea', {
      class: 'jp-mltrack-note-input',
      rows: 3,
      placeholder: 'Add a note about this run…',
      'aria-label': 'Note'
    });
    note.value = run.note || '';
    const save = h('button', {
      class: 'jp-mltrack-button jp-mod-accept jp-mltrack-save',
      text: 'Save'
    });
    const saved = h('span', { class: 'jp-mltrack-saved' });
    save.addEventListener('click', async () => {
      const patch: {
        name?: string;
        tags?: { [k: string]: string };
        note?: string;
      } = {};
      if (name.value.trim() !== run.name) {
        patch.name = name.value.trim();
      }
      const newTags = parseTags(tags.value);
      if (JSON.stringify(newTags) !== JSON.stringify(editable)) {
        patch.tags = newTags;
      }
      if (note.value !== (run.note || '')) {
        patch.note = note.value;
      }
      if (Object.keys(patch).length === 0) {
        saved.textContent = 'Nothing to save';
        return;
      }
      save.disabled = true;
      try {
        const updated = await patchRun<IRunDetail>(run.id, patch);
        this._render(updated);
        this._changed.emit('updated');
      } catch (reason) {
        save.disabled = false;
        await showErrorMessage('Cannot save the run', reason as Error);
      }
    });
    return section(
      'Notes',
      'jp-mltrack-annotations',
      h(
        'div',
        { class: 'jp-mltrack-form' },
        h('label', {}, h('span', { text: 'Name' }), name),
        h('label', {}, h('span', { text: 'Tags' }), tags),
        h('label', {}, h('span', { text: 'Note' }), note),
        h('div', { class: 'jp-mltrack-form-actions' }, save, saved)
      )
    );
  }

  private _renderMetrics(run: IRunDetail): HTMLElement {
    const names = Array.from(
      new Set([
        ...Object.keys(run.metrics || {}),
        ...Object.keys(run.metric_series || {})
      ])
    );
    if (names.length === 0) {
      return h('div', {
        class: 'jp-mltrack-muted',
        text: 'No metrics logged.'
      });
    }
    const table = h(
      'table',
      { class: 'jp-mltrack-kv jp-mltrack-metrics-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { text: 'Metric' }),
          h('th', { text: 'Latest' }),
          h('th', { text: 'Steps' }),
          h('th', { text: 'Trend' })
        )
      )
    );
    const body = h('tbody');
    const details: HTMLElement[] = [];
    for (const name of names) {
      const series: IMetricPoint[] = run.metric_series?.[name] ?? [];
      const latest =
        name in (run.metrics || {})
          ? run.metrics[name]
          : series.length
            ? series[series.length - 1].value
            : null;
      body.appendChild(
        h(
          'tr',
          { 'data-metric': name },
          h('td', { class: 'jp-mltrack-key', text: name }),
          h('td', { class: 'jp-mltrack-value', text: formatValue(latest) }),
          h('td', { text: series.length }),
          h('td', {}, sparkline(series.map(p => p.value)))
        )
      );
      if (series.length > 1) {
        const rows = series.slice(-MAX_SERIES_ROWS);
        details.push(
          h(
            'details',
            { class: 'jp-mltrack-series' },
            h('summary', {
              text: `${name}: ${series.length} values${
                series.length > rows.length ? ` (last ${rows.length})` : ''
              }`
            }),
            h(
              'table',
              { class: 'jp-mltrack-kv' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  h('th', { text: 'Step' }),
                  h('th', { text: 'Value' })
                )
              ),
              h(
                'tbody',
                {},
                rows.map(p =>
                  h(
                    'tr',
                    {},
                    h('td', { text: p.step }),
                    h('td', { text: formatValue(p.value) })
                  )
                )
              )
            )
          )
        );
      }
    }
    table.appendChild(body);
    return h('div', {}, table, details);
  }

  private async _delete(): Promise<void> {
    const run = this._run;
    if (!run) {
      return;
    }
    const result = await showDialog({
      title: `Delete run #${run.number}?`,
      body: `Run #${run.number} "${run.name}" of experiment "${run.experiment}" and everything recorded with it will be deleted.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      await deleteRun(run.id);
      this._changed.emit('deleted');
      this.dispose();
    } catch (reason) {
      await showErrorMessage('Cannot delete the run', reason as Error);
    }
  }

  private _rendermime: IRenderMimeRegistry;
  private _onExport: ((id: string) => void) | null;
  private _run: IRunDetail | null = null;
  /** The dataset previewed (kept across re-renders) and its first row. */
  private _preview: { item: IRunDataItem; offset: number } | null = null;
  /** Increases with every preview opened: a late answer for an older one is dropped. */
  private _previewToken = 0;
  private _top: Widget;
  private _artifacts: ArtifactsSection;
  private _outputsHeader: Widget;
  private _outputsModel: OutputAreaModel;
  private _outputs: SimplifiedOutputArea;
  private _bottom: Widget;
  private _changed = new Signal<this, 'updated' | 'deleted'>(this);
}

export namespace RunDetailWidget {
  export interface IOptions {
    runId: string;
    rendermime: IRenderMimeRegistry;
    /** Export the run to a pipeline (an "Export" button when given). */
    onExport?: (id: string) => void;
  }
}
