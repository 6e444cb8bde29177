/**
 * The Datasets view, in the main area: the named datasets on the left; the
 * chosen dataset's versions newest first (hash, tags, message, who pushed
 * it and when, shape, size, the runs that read it); under them the chosen
 * version's manifest, meta, columns and a preview of its rows, or, with two
 * versions checked, what changed between them. "Tag…" moves or sets a tag
 * in one confirmed action; a tag's × deletes it (confirmed).
 *
 * The rows are the run detail's preview (`rowsPage`) and the diff the
 * compare view's (`snapshotDiffView`), over the datasets routes, which
 * answer what the snapshot routes answer for the versions' snapshots.
 */

import { refreshIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { messageOf } from '../confirm';
import { clear, h } from '../dom';
import { datasetIcon } from '../icons';
import { formatBytes } from '../model';
import { factList, keyValueTable, rowsPage, section } from '../sections';
import { snapshotDiffView } from '../snapshotdiff';
import { deleteTagFlow, moveTagFlow } from './actions';
import {
  datasetsChanged,
  getDataset,
  getDiff,
  getVersion,
  getVersionRows,
  listDatasets
} from './api';
import {
  datasetSummaryText,
  diffPair,
  findVersion,
  pushedText,
  schemaColumns,
  tagsText,
  toggleDiffSelection,
  usedByText,
  useText,
  versionFacts,
  versionShape
} from './format';
import {
  IDatasetDetail,
  IDatasetFile,
  IDatasetSummary,
  IDatasetUse,
  IDatasetVersion
} from './types';

/** Rows of a preview page. */
const PREVIEW_ROWS = 20;
/** Runs named in a version's row; the version's panel lists them all. */
const RUNS_IN_ROW = 3;

/** Files of a folder version listed; its record has them all (`browse(ref).files`). */
const FILES_LISTED = 200;

/** A folder version's files (path and size), from its record: a folder has no rows. */
function folderFiles(files: IDatasetFile[], ref: string): HTMLElement {
  const total = files.reduce((sum, f) => sum + f.size, 0);
  return h(
    'div',
    { class: 'jp-mltrack-dataset-files' },
    h('div', {
      class: 'jp-mltrack-muted',
      text: `A folder of ${files.length.toLocaleString()} files (${formatBytes(total)}). mltrack.datasets.get("${ref}") gives its path.`
    }),
    h(
      'table',
      { class: 'jp-mltrack-kv' },
      h(
        'tbody',
        {},
        files
          .slice(0, FILES_LISTED)
          .map(f =>
            h(
              'tr',
              { 'data-path': f.path },
              h('td', { class: 'jp-mltrack-key', text: f.path }),
              h('td', { class: 'jp-mltrack-value', text: formatBytes(f.size) })
            )
          )
      )
    ),
    files.length > FILES_LISTED
      ? h('div', {
          class: 'jp-mltrack-muted',
          text: `\u2026 and ${(files.length - FILES_LISTED).toLocaleString()} more`
        })
      : undefined
  );
}

export class DatasetsPanel extends Widget {
  constructor(options: DatasetsPanel.IOptions) {
    super();
    this._openRun = options.openRun;
    this.id = DatasetsPanel.ID;
    this.addClass('jp-mltrack-datasets');
    this.title.icon = datasetIcon;
    this.title.label = 'Datasets';
    this.title.caption = 'Named, versioned datasets';
    this.title.closable = true;
    this.node.tabIndex = -1;

    const refresh = h('button', {
      class: 'jp-mltrack-icon-button jp-mltrack-datasets-refresh',
      title: 'Refresh the datasets',
      'aria-label': 'Refresh the datasets'
    });
    refresh.appendChild(refreshIcon.element({ tag: 'span' }));
    refresh.addEventListener('click', () => void this.refresh());
    this._count = h('span', { class: 'jp-mltrack-datasets-count' });
    this._error = h('div', { class: 'jp-mltrack-error' });
    this._error.hidden = true;
    this._list = h('div', { class: 'jp-mltrack-datasets-list' });
    this._main = h('div', { class: 'jp-mltrack-datasets-main' });
    this.node.appendChild(
      h(
        'div',
        { class: 'jp-mltrack-datasets-toolbar' },
        h('span', { class: 'jp-mltrack-datasets-title', text: 'Datasets' }),
        this._count,
        h('span', { class: 'jp-mltrack-spacer' }),
        refresh
      )
    );
    this.node.appendChild(this._error);
    this.node.appendChild(
      h('div', { class: 'jp-mltrack-datasets-body' }, this._list, this._main)
    );
    datasetsChanged.connect(this._onChanged, this);
  }

  /** The datasets last read. */
  get datasets(): IDatasetSummary[] {
    return this._datasets;
  }

  /** The dataset shown and its version (what a reload of the page shows again). */
  get shown(): { name: string | null; hash: string | null } {
    return { name: this._name, hash: this._version };
  }

  /** Another dataset or version is shown. */
  get shownChanged(): ISignal<this, void> {
    return this._shownChanged;
  }

  /** Show `name` and its version `hash` (or hex prefix), else its latest. */
  async showDataset(name: string, hash: string | null = null): Promise<void> {
    this._wanted = { name, hash };
    await this.refresh();
  }

  /** Read the datasets, then the one shown and its version. */
  async refresh(): Promise<void> {
    const token = ++this._token;
    try {
      const datasets = await listDatasets();
      if (token !== this._token) {
        return;
      }
      this._datasets = datasets;
      this._showError(null);
    } catch (reason) {
      if (token === this._token) {
        this._showError(reason);
      }
      return;
    }
    const wanted = this._wanted;
    this._wanted = null;
    const names = this._datasets.map(d => d.name);
    let name = wanted?.name ?? this._name;
    if (name === null || !names.includes(name)) {
      name = names[0] ?? null;
    }
    if (name !== this._name) {
      this._selected = [];
      this._version = null;
    }
    this._name = name;
    if (wanted?.hash) {
      this._version = wanted.hash;
    }
    this._renderList();
    await this._loadDataset(token);
  }

  /**
   * The store changed (the runs list's revision: a run may have read a
   * version): read the datasets again if the view shows, else when it does.
   */
  storeChanged(revision: string | null): void {
    if (revision === this._revision) {
      return;
    }
    this._revision = revision;
    if (this.isVisible) {
      void this.refresh();
    } else {
      this._stale = true;
    }
  }

  dispose(): void {
    datasetsChanged.disconnect(this._onChanged, this);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (this._stale) {
      this._stale = false;
      void this.refresh();
    }
  }

  private _onChanged(): void {
    void this.refresh();
  }

  private _showError(reason: unknown): void {
    this._error.hidden = reason === null;
    this._error.textContent =
      reason === null ? '' : `Cannot load the datasets: ${messageOf(reason)}`;
  }

  // the list of datasets ---------------------------------------------------------

  private _renderList(): void {
    const n = this._datasets.length;
    this._count.textContent = `${n} ${n === 1 ? 'dataset' : 'datasets'}`;
    clear(this._list);
    if (n === 0) {
      this._list.appendChild(
        h('div', {
          class: 'jp-mltrack-muted',
          text: 'No datasets. Push one with mltrack.datasets.push(df, "team/churn") or mltrack datasets push.'
        })
      );
      return;
    }
    for (const d of this._datasets) {
      const row = h(
        'div',
        {
          class: `jp-mltrack-dataset-row${d.name === this._name ? ' jp-mod-selected' : ''}`,
          tabindex: 0,
          role: 'button',
          'data-dataset': d.name,
          title: `Versions of ${d.name}`
        },
        h('div', { class: 'jp-mltrack-dataset-name', text: d.name }),
        h('div', {
          class: 'jp-mltrack-dataset-summary',
          text: datasetSummaryText(d)
        }),
        Object.keys(d.tags).length
          ? h('div', {
              class: 'jp-mltrack-dataset-row-tags',
              text: tagsText(Object.keys(d.tags))
            })
          : null
      );
      const choose = () => {
        if (d.name !== this._name) {
          void this.showDataset(d.name);
        }
      };
      row.addEventListener('click', choose);
      row.addEventListener('keydown', event => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          choose();
        }
      });
      this._list.appendChild(row);
    }
  }

  // a dataset's versions ---------------------------------------------------------

  private async _loadDataset(token: number): Promise<void> {
    const name = this._name;
    if (name === null) {
      this._detail = null;
      clear(this._main);
      return;
    }
    if (this._detail?.dataset.name !== name) {
      clear(this._main);
      this._main.appendChild(
        h('div', { class: 'jp-mltrack-loading', text: 'Loading\u2026' })
      );
    }
    let detail: IDatasetDetail;
    try {
      detail = await getDataset(name);
    } catch (reason) {
      if (token === this._token) {
        clear(this._main);
        this._main.appendChild(
          h('div', {
            class: 'jp-mltrack-error',
            text: `Cannot load ${name}: ${messageOf(reason)}`
          })
        );
      }
      return;
    }
    if (token !== this._token) {
      return;
    }
    this._detail = detail;
    const hashes = detail.versions.map(v => v.hash);
    this._selected = this._selected.filter(hash => hashes.includes(hash));
    this._version = findVersion(detail.versions, this._version)?.hash ?? null;
    this._renderMain();
    this._shownChanged.emit();
  }

  private _renderMain(): void {
    const detail = this._detail;
    clear(this._main);
    if (!detail) {
      return;
    }
    const d = detail.dataset;
    this._main.appendChild(
      h(
        'div',
        { class: 'jp-mltrack-detail-title' },
        h('span', { class: 'jp-mltrack-detail-name', text: d.name }),
        h('span', {
          class: 'jp-mltrack-detail-number',
          text: datasetSummaryText(d)
        })
      )
    );
    const more =
      detail.total > detail.versions.length
        ? h('div', {
            class: 'jp-mltrack-muted',
            text: `The newest ${detail.versions.length} of ${detail.total} versions.`
          })
        : null;
    this._main.appendChild(
      section(
        'Versions',
        'jp-mltrack-dataset-versions-section',
        h('div', {}, this._versionsTable(detail), more)
      )
    );
    this._diffBox = h('div', { class: 'jp-mltrack-dataset-diff' });
    this._main.appendChild(this._diffBox);
    this._versionBox = h('div', { class: 'jp-mltrack-dataset-version' });
    this._main.appendChild(this._versionBox);
    void this._renderDiff();
    void this._renderVersion();
  }

  private _versionsTable(detail: IDatasetDetail): HTMLElement {
    const body = h('tbody');
    for (const v of detail.versions) {
      body.appendChild(this._versionRow(detail, v));
    }
    return h(
      'div',
      { class: 'jp-mltrack-dataset-versions-scroll' },
      h(
        'table',
        { class: 'jp-mltrack-kv jp-mltrack-dataset-versions' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {
              class: 'jp-mltrack-dataset-check-header',
              text: 'Diff',
              title: 'Check two versions to see what changed between them'
            }),
            ['Version', 'Tags', 'Message', 'Pushed', 'Shape', 'Size'].map(
              text => h('th', { text })
            ),
            h('th', { text: 'Used by' }),
            h('th', {})
          )
        ),
        body
      )
    );
  }

  private _versionRow(detail: IDatasetDetail, v: IDatasetVersion): HTMLElement {
    const check = h('input', {
      type: 'checkbox',
      class: 'jp-mltrack-dataset-diff-check',
      title: `Compare ${v.short} with another checked version`,
      'aria-label': `Compare ${v.short}`,
      checked: this._selected.includes(v.hash)
    });
    check.addEventListener('click', event => event.stopPropagation());
    check.addEventListener('change', () => {
      this._selected = toggleDiffSelection(this._selected, v.hash);
      this._syncChecks();
      void this._renderDiff();
    });
    const tags = v.tags
      .slice()
      .sort()
      .map(tag => {
        const remove = h('button', {
          class: 'jp-mltrack-alias-delete',
          text: '\u00d7',
          title: `Delete @${tag}`,
          'aria-label': `Delete @${tag}`
        });
        remove.addEventListener('click', async event => {
          event.stopPropagation();
          await deleteTagFlow(detail.dataset.name, tag, v);
        });
        return h(
          'span',
          { class: 'jp-mltrack-alias jp-mltrack-dataset-tag', 'data-tag': tag },
          `@${tag}`,
          remove
        );
      });
    const tagButton = h('button', {
      class: 'jp-mltrack-button jp-mltrack-dataset-tag-button',
      text: 'Tag\u2026',
      title: `Point a tag (gold, v1\u2026) at ${v.short}, moving it from another version`
    });
    tagButton.addEventListener('click', async event => {
      event.stopPropagation();
      await moveTagFlow(detail, v);
    });
    const runs = v.runs ?? [];
    const row = h(
      'tr',
      {
        class: `jp-mltrack-dataset-version-row${v.hash === this._version ? ' jp-mod-selected' : ''}`,
        tabindex: 0,
        'data-hash': v.hash,
        title: `Show ${v.ref}`
      },
      h('td', { class: 'jp-mltrack-dataset-check' }, check),
      h(
        'td',
        { class: 'jp-mltrack-dataset-hash', title: v.hash },
        h('code', { text: v.short })
      ),
      h(
        'td',
        { class: 'jp-mltrack-dataset-tags' },
        tags,
        v.latest
          ? h('span', {
              class: 'jp-mltrack-dataset-latest',
              text: 'latest',
              title: 'The version pushed last'
            })
          : null
      ),
      h('td', {
        class: 'jp-mltrack-dataset-message',
        text: v.message || '\u2014',
        title: v.message
      }),
      h('td', { class: 'jp-mltrack-dataset-pushed', text: pushedText(v) }),
      h('td', { class: 'jp-mltrack-dataset-shape', text: versionShape(v) }),
      h('td', {
        class: 'jp-mltrack-dataset-size',
        text: formatBytes(v.nbytes)
      }),
      h(
        'td',
        { class: 'jp-mltrack-dataset-runs', title: usedByText(v.runs) },
        runs.length === 0
          ? h('span', { class: 'jp-mltrack-muted-inline', text: 'no runs' })
          : [
              runs.slice(0, RUNS_IN_ROW).map(use => this._runLink(use)),
              runs.length > RUNS_IN_ROW
                ? h('span', {
                    class: 'jp-mltrack-muted-inline',
                    text: ` +${runs.length - RUNS_IN_ROW}`
                  })
                : null
            ]
      ),
      h('td', { class: 'jp-mltrack-dataset-actions' }, tagButton)
    );
    const choose = () => {
      this._version = v.hash;
      this._shownChanged.emit();
      this._main
        .querySelectorAll('.jp-mltrack-dataset-version-row')
        .forEach(node =>
          node.classList.toggle(
            'jp-mod-selected',
            (node as HTMLElement).dataset.hash === v.hash
          )
        );
      void this._renderVersion();
    };
    row.addEventListener('click', choose);
    row.addEventListener('keydown', event => {
      if (
        event.target === row &&
        (event.key === 'Enter' || event.key === ' ')
      ) {
        event.preventDefault();
        choose();
      }
    });
    return row;
  }

  private _runLink(use: IDatasetUse): HTMLElement {
    const link = h('a', {
      class: 'jp-mltrack-dataset-run',
      href: '#',
      'data-run-id': use.run_id,
      text: useText(use),
      title: use.dataset
        ? `Run #${use.number} read ${use.dataset} as ${use.name}`
        : `Run #${use.number} read the same data as ${use.name}`
    });
    link.addEventListener('click', event => {
      event.preventDefault();
      event.stopPropagation();
      this._openRun(use.run_id);
    });
    return link;
  }

  private _syncChecks(): void {
    this._main
      .querySelectorAll<HTMLElement>('.jp-mltrack-dataset-version-row')
      .forEach(row => {
        const box = row.querySelector<HTMLInputElement>(
          '.jp-mltrack-dataset-diff-check'
        );
        if (box) {
          box.checked = this._selected.includes(row.dataset.hash ?? '');
        }
      });
  }

  // the diff of two versions -----------------------------------------------------

  private async _renderDiff(): Promise<void> {
    const box = this._diffBox;
    const detail = this._detail;
    if (!box || !detail) {
      return;
    }
    const token = ++this._diffToken;
    clear(box);
    const pair = diffPair(detail.versions, this._selected);
    if (pair === null && detail.versions.length < 2) {
      return; // nothing to compare with
    }
    if (pair === null) {
      box.appendChild(
        h('div', {
          class: 'jp-mltrack-muted jp-mltrack-dataset-diff-hint',
          text:
            this._selected.length === 1
              ? 'Check one more version to see what changed.'
              : 'Check two versions to see what changed between them.'
        })
      );
      return;
    }
    const [from, to] = pair;
    const content = h(
      'div',
      {},
      h('div', { class: 'jp-mltrack-loading', text: 'Loading the diff\u2026' })
    );
    const close = h('button', {
      class: 'jp-mltrack-icon-button jp-mltrack-preview-close',
      text: '\u00d7',
      title: 'Close the diff',
      'aria-label': 'Close the diff'
    });
    close.addEventListener('click', () => {
      this._selected = [];
      this._syncChecks();
      void this._renderDiff();
    });
    box.appendChild(
      h(
        'div',
        { class: 'jp-mltrack-dataset-diff-box' },
        h(
          'div',
          { class: 'jp-mltrack-dataset-diff-header' },
          h('h3', { class: 'jp-mltrack-section-title', text: 'What changed' }),
          h('span', { class: 'jp-mltrack-spacer' }),
          close
        ),
        content
      )
    );
    try {
      const diff = await getDiff(detail.dataset.name, from.hash, to.hash);
      if (token !== this._diffToken) {
        return;
      }
      clear(content);
      content.appendChild(
        snapshotDiffView(
          diff.diff,
          `${from.short} (${from.message || 'older'}) \u2192 ${to.short} (${to.message || 'newer'}) \u00b7 ${diff.diff.kind ?? ''}`
        )
      );
      if (diff.meta) {
        content.appendChild(
          h(
            'div',
            { class: 'jp-mltrack-dataset-meta-diff' },
            h('div', { text: 'Meta' }),
            h('code', { text: JSON.stringify(diff.meta.from) }),
            ' \u2192 ',
            h('code', { text: JSON.stringify(diff.meta.to) })
          )
        );
      }
    } catch (reason) {
      if (token === this._diffToken) {
        clear(content);
        content.appendChild(
          h('div', {
            class: 'jp-mltrack-error',
            text: `Cannot diff the versions: ${messageOf(reason)}`
          })
        );
      }
    }
  }

  // one version ------------------------------------------------------------------

  private async _renderVersion(offset = 0): Promise<void> {
    const box = this._versionBox;
    const detail = this._detail;
    const hash = this._version;
    if (!box || !detail || hash === null) {
      return;
    }
    const token = ++this._versionToken;
    const name = detail.dataset.name;
    let browsed;
    try {
      browsed = await getVersion(name, hash);
    } catch (reason) {
      if (token === this._versionToken) {
        clear(box);
        box.appendChild(
          h('div', {
            class: 'jp-mltrack-error',
            text: `Cannot load the version: ${messageOf(reason)}`
          })
        );
      }
      return;
    }
    if (token !== this._versionToken) {
      return;
    }
    const v = browsed.version;
    const columns = schemaColumns(browsed.snapshot.schema);
    const rows = h('div', { class: 'jp-mltrack-preview-content' });
    const runs = v.runs ?? [];
    clear(box);
    box.appendChild(
      h(
        'div',
        { class: 'jp-mltrack-dataset-version-grid', 'data-hash': v.hash },
        h(
          'div',
          { class: 'jp-mltrack-dataset-version-facts' },
          h(
            'section',
            { class: 'jp-mltrack-section jp-mltrack-dataset-manifest' },
            h(
              'h3',
              { class: 'jp-mltrack-section-title' },
              'Version ',
              h('code', {
                class: 'jp-mltrack-dataset-title-hash',
                text: v.short
              })
            ),
            factList(versionFacts(v, browsed.manifest))
          ),
          section(
            'Meta',
            'jp-mltrack-dataset-meta',
            keyValueTable(v.meta, 'No meta.')
          ),
          columns.length
            ? section(
                `Columns (${columns.length})`,
                'jp-mltrack-dataset-columns',
                keyValueTable(
                  Object.fromEntries(columns.map(c => [c.name, c.dtype])),
                  ''
                )
              )
            : null,
          section(
            `Used by (${usedByText(runs)})`,
            'jp-mltrack-dataset-used-by',
            runs.length
              ? h(
                  'ul',
                  { class: 'jp-mltrack-dataset-uses' },
                  runs.map(use =>
                    h(
                      'li',
                      {},
                      this._runLink(use),
                      h('span', {
                        class: 'jp-mltrack-muted-inline',
                        text: use.dataset
                          ? ` read it as ${use.name}`
                          : ` read the same data as ${use.name}`
                      })
                    )
                  )
                )
              : h('div', {
                  class: 'jp-mltrack-muted',
                  text: 'No run read it yet.'
                })
          )
        ),
        section(
          'Rows',
          'jp-mltrack-dataset-rows',
          h('div', { class: 'jp-mltrack-data-preview' }, rows)
        )
      )
    );
    if (v.kind === 'file') {
      rows.appendChild(
        h('div', {
          class: 'jp-mltrack-muted',
          text: `A file (${String(browsed.snapshot.schema?.name ?? '')}, ${formatBytes(v.nbytes)}): it has no rows. mltrack.datasets.get("${v.ref}") gives its path.`
        })
      );
      return;
    }
    if (v.kind === 'folder') {
      rows.appendChild(folderFiles(browsed.files ?? [], v.ref));
      return;
    }
    await this._showRows(rows, name, v.hash, offset, token);
  }

  private async _showRows(
    node: HTMLElement,
    name: string,
    hash: string,
    offset: number,
    token: number
  ): Promise<void> {
    clear(node);
    node.appendChild(
      h('div', { class: 'jp-mltrack-loading', text: 'Loading rows\u2026' })
    );
    try {
      const page = await getVersionRows(name, hash, offset, PREVIEW_ROWS);
      if (token !== this._versionToken) {
        return;
      }
      clear(node);
      node.appendChild(
        rowsPage(
          page,
          PREVIEW_ROWS,
          next => void this._showRows(node, name, hash, next, token)
        )
      );
    } catch (reason) {
      if (token === this._versionToken) {
        clear(node);
        node.appendChild(
          h('div', {
            class: 'jp-mltrack-error',
            text: `Cannot preview the rows: ${messageOf(reason)}`
          })
        );
      }
    }
  }

  private _openRun: (id: string) => void;
  private _shownChanged = new Signal<this, void>(this);
  private _datasets: IDatasetSummary[] = [];
  private _name: string | null = null;
  private _detail: IDatasetDetail | null = null;
  private _version: string | null = null;
  private _selected: string[] = [];
  private _wanted: { name: string; hash: string | null } | null = null;
  private _revision: string | null | undefined = undefined;
  private _stale = false;
  private _token = 0;
  private _diffToken = 0;
  private _versionToken = 0;
  private _count: HTMLElement;
  private _error: HTMLElement;
  private _list: HTMLElement;
  private _main: HTMLElement;
  private _diffBox: HTMLElement | null = null;
  private _versionBox: HTMLElement | null = null;
}

export namespace DatasetsPanel {
  /** The id of the view (one per page). */
  export const ID = 'jp-mltrack-datasets';

  export interface IOptions {
    /** Open a run's detail. */
    openRun: (id: string) => void;
  }
}
