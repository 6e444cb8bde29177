/**
 * The Artifacts section of a run's detail: a row per artifact (name, kind,
 * size, file count, the registered versions of a model) and, for the one
 * opened, its files (picker, Download), a model's card and the file's
 * preview drawn by JupyterLab's renderers.
 *
 * Images and figures logged at a step (`series.ts`) are one row per series;
 * opened, a slider walks its steps, the picture shown staying until the next
 * one is drawn.
 *
 * It outlives the detail's re-renders (a reload, a save): the artifact open
 * stays open, and its preview is not fetched again while its file is the same.
 * A series open at its last step follows the steps a live run adds: while
 * the run is running and the section is shown, its artifacts are asked for
 * every LIVE_MS (the detail reloads when the run's metrics or status change,
 * and a loop logging only images changes neither).
 */

import { showErrorMessage } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import {
  LabIcon,
  fileIcon,
  folderIcon,
  imageIcon,
  jsonIcon,
  tableRowsIcon,
  textEditorIcon
} from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';

import { clear, h, onActivate } from '../dom';
import { modelIcon } from '../icons';
import { IRunDetail, formatBytes } from '../model';
import { registerFlow } from '../models/actions';
import { IRegistryChange, registryChanged } from '../models/api';
import { downloadFile, fetchArtifacts, fetchPreview } from './api';
import {
  PARQUET_MIME,
  filesText,
  kindLabel,
  listingKey,
  orderedPaths,
  sizeText,
  versionsOf
} from './format';
import { modelCard, versionChip } from './modelcard';
import { clearPanel, renderPreview } from './render';
import {
  ArtifactEntry,
  IArtifactSeries,
  groupArtifacts,
  seriesLabel,
  seriesText,
  stepOf,
  stepsText
} from './series';
import { StepBar } from './stepbar';
import { IArtifact } from './types';

/** How often a running run's artifacts are asked for while they are shown. */
const LIVE_MS = 3000;

/** Most files listed under an opened artifact (the picker holds them all). */
const MAX_LISTED_FILES = 200;

const KIND_ICONS: { [kind: string]: LabIcon } = {
  file: fileIcon,
  folder: folderIcon,
  text: textEditorIcon,
  dict: jsonIcon,
  figure: imageIcon,
  model: modelIcon
};

export class ArtifactsSection extends Panel {
  constructor(options: ArtifactsSection.IOptions) {
    super();
    this.addClass('jp-mltrack-section');
    this.addClass('jp-mltrack-artifacts');
    this._rendermime = options.rendermime;
    this._onChanged = options.onChanged;
    this._list = new Widget();
    this._info = new Widget();
    this._info.addClass('jp-mltrack-artifact-info');
    this._content = new Panel();
    this._content.addClass('jp-mltrack-artifact-content');
    this._box = new Panel();
    this._box.addClass('jp-mltrack-artifact-preview');
    this._box.addWidget(this._info);
    this._box.addWidget(this._content);
    this._box.hide();
    this.addWidget(this._list);
    this.addWidget(this._box);
    this.hide();
    registryChanged.connect(this._onRegistryChanged, this);
  }

  /** The name of the artifact opened, if any. */
  get openName(): string | null {
    return this._open?.name ?? null;
  }

  /** Show the artifacts of `run` (hidden for a server that sends none). */
  setRun(run: IRunDetail): void {
    this._run = run;
    this._watch(run);
    const artifacts = run.artifacts;
    this.setHidden(!Array.isArray(artifacts));
    clear(this._list.node);
    // a series counts once, as it is listed
    const entries = groupArtifacts(artifacts ?? []);
    this._list.node.appendChild(
      h('h3', {
        class: 'jp-mltrack-section-title',
        text: `Artifacts${entries.length ? ` (${entries.length})` : ''}`
      })
    );
    if (!artifacts || artifacts.length === 0) {
      this._list.node.appendChild(
        h('div', { class: 'jp-mltrack-muted', text: 'No artifacts logged.' })
      );
      this._close();
      return;
    }
    this._list.node.appendChild(this._table(run, entries));
    const open = this._open;
    if (open?.series !== undefined && open.series !== null) {
      this._reopenSeries(entries, open.series);
      return;
    }
    const artifact = open && artifacts.find(a => a.name === open.name);
    // (a step of a series is opened through its series, above)
    if (!open || !artifact || stepOf(artifact.meta) !== null) {
      this._close();
      return;
    }
    const file = artifact.files.find(f => f.path === open.path);
    if (file && file.digest === open.digest) {
      this._markOpen();
      this._renderInfo(artifact); // registered versions may have changed
    } else {
      this._openFile(artifact, orderedPaths(artifact)[0] ?? null);
    }
  }

  /**
   * The run reloaded with a series open: the same step stays open (its
   * slider untouched while the steps are the same: a reload must not end a
   * drag), the new last step when it was at the last one.
   */
  private _reopenSeries(entries: ArtifactEntry[], name: string): void {
    const series = entries.find(e => e.series?.name === name)?.series;
    const open = this._open;
    const shown = this._series;
    if (!series || !open) {
      this._close();
      return;
    }
    const same =
      shown !== null &&
      shown.steps.length === series.steps.length &&
      shown.steps.every((step, i) => step === series.steps[i]);
    const at = shown?.members.findIndex(a => a.name === open.name) ?? -1;
    const wasLast = shown !== null && at === shown.members.length - 1;
    let index = series.members.findIndex(a => a.name === open.name);
    if (index < 0 || wasLast) {
      index = series.members.length - 1;
    }
    const member = series.members[index];
    const file = member.files.find(f => f.path === open.path);
    this._markOpen();
    if (file && file.digest === open.digest) {
      this._series = series;
      if (!same) {
        this._updateStep(series, member, index); // new steps: the slider grows
      }
      return;
    }
    this._openStep(series, index, true);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._stopWatching();
    registryChanged.disconnect(this._onRegistryChanged, this);
    super.dispose();
  }

  private _table(run: IRunDetail, entries: ArtifactEntry[]): HTMLElement {
    const rows = entries.map(entry => {
      if (entry.series) {
        return this._seriesRow(entry.series);
      }
      const artifact = entry.artifact;
      const icon =
        artifact.media_type === PARQUET_MIME
          ? tableRowsIcon
          : (KIND_ICONS[artifact.kind] ?? fileIcon);
      const row = h(
        'tr',
        {
          class: 'jp-mltrack-artifact-row',
          tabindex: 0,
          'data-name': artifact.name,
          'data-kind': artifact.kind,
          title: `Open ${artifact.name}`
        },
        h(
          'td',
          { class: 'jp-mltrack-artifact-name' },
          icon.element({ tag: 'span', className: 'jp-mltrack-artifact-icon' }),
          h('span', { text: artifact.name, title: artifact.name })
        ),
        h('td', {
          class: 'jp-mltrack-artifact-kind',
          text: kindLabel(artifact.kind, artifact.media_type)
        }),
        h('td', {
          class: 'jp-mltrack-artifact-size',
          text: formatBytes(artifact.size)
        }),
        h('td', {
          class: 'jp-mltrack-artifact-count',
          text: filesText(artifact.file_count)
        }),
        h(
          'td',
          { class: 'jp-mltrack-artifact-registered' },
          versionsOf(run.models, artifact.name).map(versionChip),
          artifact.status && artifact.status !== 'complete'
            ? h('span', { class: 'jp-mltrack-tag', text: artifact.status })
            : null
        )
      );
      return onActivate(row, () => this._toggle(artifact));
    });
    return h(
      'table',
      { class: 'jp-mltrack-kv jp-mltrack-artifacts-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Name', 'Kind', 'Size', 'Files', 'Registered'].map(text =>
            h('th', { text })
          )
        )
      ),
      h('tbody', {}, rows)
    );
  }

  /** A series' row: its name, its steps and their size; opens at its last step. */
  private _seriesRow(series: IArtifactSeries): HTMLElement {
    const last = series.members[series.members.length - 1];
    const size = series.members.reduce((sum, a) => sum + a.size, 0);
    const count = stepsText(series.steps.length);
    const toggle = () => {
      if (this._open?.series === series.name) {
        this._close();
      } else {
        this._openStep(series, series.members.length - 1);
      }
    };
    const row = h(
      'tr',
      {
        class: 'jp-mltrack-artifact-row jp-mltrack-artifact-series-row',
        tabindex: 0,
        'data-name': series.name,
        'data-kind': last.kind,
        'data-series': 'true',
        title: `Open ${series.name} (${count})`
      },
      h(
        'td',
        { class: 'jp-mltrack-artifact-name' },
        imageIcon.element({
          tag: 'span',
          className: 'jp-mltrack-artifact-icon'
        }),
        h('span', { text: series.name, title: series.name })
      ),
      h('td', { class: 'jp-mltrack-artifact-kind', text: seriesLabel(last) }),
      h('td', { class: 'jp-mltrack-artifact-size', text: formatBytes(size) }),
      h('td', { class: 'jp-mltrack-artifact-count', text: count }),
      h('td', { class: 'jp-mltrack-artifact-registered' })
    );
    return onActivate(row, toggle);
  }

  private _toggle(artifact: IArtifact): void {
    if (this._open?.name === artifact.name) {
      this._close();
    } else {
      this._openFile(artifact, orderedPaths(artifact)[0] ?? null);
    }
  }

  /**
   * Open step `index` of `series`: its file of the same format as the one
   * shown (a figure's SVG stays SVG), the slider at it. `keep` leaves the
   * picture shown until the step's is drawn (a slider move, a reload).
   */
  private _openStep(
    series: IArtifactSeries,
    index: number,
    keep = false
  ): void {
    const member = series.members[index];
    const paths = orderedPaths(member);
    const current = this._open?.series === series.name ? this._open.path : null;
    const ext = current?.slice(current.lastIndexOf('.'));
    const path =
      (ext && paths.find(p => p.endsWith(ext))) || (paths[0] ?? null);
    const file = member.files.find(f => f.path === path);
    const slider = this._series?.name === series.name && keep;
    this._open = {
      name: member.name,
      path,
      digest: file?.digest ?? null,
      series: series.name
    };
    this._series = series;
    this._markOpen();
    if (slider && this._stepBar) {
      this._updateStep(series, member, index);
    } else {
      this._renderInfo(member);
    }
    this._box.show();
    void this._loadPreview(member, path, keep);
  }

  /** After a slider move: the step's bar, header and file bar, in place. */
  private _updateStep(
    series: IArtifactSeries,
    member: IArtifact,
    index: number
  ): void {
    const run = this._run;
    if (!this._stepBar || !run) {
      return;
    }
    this._stepBar.show(series, index);
    const digest = this._info.node.querySelector('.jp-mltrack-preview-digest');
    if (digest) {
      digest.textContent = seriesText(series);
    }
    const old = this._info.node.querySelector('.jp-mltrack-artifact-filebar');
    old?.replaceWith(this._fileBar(run.id, member, this._open?.path ?? null));
  }

  private _close(): void {
    this._open = null;
    this._series = null;
    this._stepBar = null;
    this._token++;
    clearPanel(this._content);
    clear(this._info.node);
    this._box.hide();
    this._markOpen();
  }

  private _markOpen(): void {
    const name = this._open?.series ?? this._open?.name;
    this._list.node
      .querySelectorAll<HTMLElement>('.jp-mltrack-artifact-row')
      .forEach(row =>
        row.classList.toggle('jp-mod-selected', row.dataset.name === name)
      );
  }

  /** Open `path` of `artifact` (its info, then its preview once fetched). */
  private _openFile(artifact: IArtifact, path: string | null): void {
    const file = artifact.files.find(f => f.path === path);
    const series = this._open?.series ?? null;
    if (series !== null && this._open?.name === artifact.name) {
      // a file picked within a step of the open series (a figure's SVG)
      this._open = {
        name: artifact.name,
        path,
        digest: file?.digest ?? null,
        series
      };
      this._markOpen();
      void this._loadPreview(artifact, path, true);
      const old = this._info.node.querySelector('.jp-mltrack-artifact-filebar');
      if (this._run) {
        old?.replaceWith(this._fileBar(this._run.id, artifact, path));
      }
      return;
    }
    this._open = {
      name: artifact.name,
      path,
      digest: file?.digest ?? null,
      series: null
    };
    this._series = null;
    this._stepBar = null;
    this._markOpen();
    this._renderInfo(artifact);
    this._box.show();
    void this._loadPreview(artifact, path);
  }

  private async _loadPreview(
    artifact: IArtifact,
    path: string | null,
    keep = false
  ): Promise<void> {
    const run = this._run;
    const token = ++this._token;
    if (!keep || path === null || this._content.widgets.length === 0) {
      clearPanel(this._content);
      if (!run || path === null) {
        return;
      }
      this._content.addWidget(
        new Widget({
          node: h('div', {
            class: 'jp-mltrack-loading',
            text: 'Loading\u2026'
          })
        })
      );
    }
    if (!run) {
      return;
    }
    // Another file opened meanwhile: this one's answer is dropped.
    const stale = () => token !== this._token;
    try {
      const preview = await fetchPreview(run.id, artifact.name, path);
      if (stale()) {
        return;
      }
      await renderPreview(this._rendermime, this._content, preview, stale);
    } catch (reason) {
      if (stale()) {
        return;
      }
      clearPanel(this._content);
      this._content.addWidget(
        new Widget({
          node: h('div', {
            class: 'jp-mltrack-error',
            text: `Cannot preview ${path}: ${(reason as Error).message ?? reason}`
          })
        })
      );
    }
  }

  /** The opened artifact's header, file picker, Download and model card. */
  private _renderInfo(artifact: IArtifact): void {
    const run = this._run;
    const open = this._open;
    if (!run || !open) {
      return;
    }
    const node = this._info.node;
    clear(node);
    const close = h('button', {
      class: 'jp-mltrack-icon-button jp-mltrack-preview-close',
      text: '\u00d7',
      title: 'Close',
      'aria-label': 'Close the artifact'
    });
    close.addEventListener('click', () => this._close());
    const series = open.series !== null ? this._series : null;
    node.appendChild(
      h(
        'div',
        { class: 'jp-mltrack-preview-header' },
        h('span', {
          class: 'jp-mltrack-preview-title',
          text: series?.name ?? artifact.name
        }),
        h('span', {
          class: 'jp-mltrack-preview-digest',
          text: series
            ? seriesText(series)
            : `${kindLabel(artifact.kind, artifact.media_type)} \u00b7 ${sizeText(artifact)}`
        }),
        h('span', { class: 'jp-mltrack-spacer' }),
        close
      )
    );
    if (artifact.kind === 'model') {
      node.appendChild(
        modelCard(artifact, versionsOf(run.models, artifact.name), () => {
          void registerFlow(run.id, artifact.name);
        })
      );
    }
    if (series) {
      const index = series.members.findIndex(a => a.name === artifact.name);
      this._stepBar = new StepBar(series, Math.max(index, 0), picked => {
        if (this._series) {
          this._openStep(this._series, picked, true);
        }
      });
      node.appendChild(this._stepBar.node);
    } else {
      this._stepBar = null;
    }
    node.appendChild(this._fileBar(run.id, artifact, open.path));
    if (artifact.file_count > 1 && !series) {
      node.appendChild(this._fileList(run.id, artifact));
    }
  }

  /** The file shown (a picker when there are several) and its Download. */
  private _fileBar(
    runId: string,
    artifact: IArtifact,
    path: string | null
  ): HTMLElement {
    const paths = orderedPaths(artifact);
    let chooser: HTMLElement;
    if (paths.length > 1) {
      const select = h(
        'select',
        {
          class: 'jp-mltrack-artifact-file-select',
          'aria-label': 'File to preview'
        },
        paths.map(p => h('option', { value: p, text: p }))
      );
      select.value = path ?? paths[0];
      select.addEventListener('change', () =>
        this._openFile(artifact, select.value)
      );
      chooser = select;
    } else {
      chooser = h('code', {
        class: 'jp-mltrack-artifact-file-name',
        text: path ?? '—'
      });
    }
    const file = artifact.files.find(f => f.path === path);
    return h(
      'div',
      { class: 'jp-mltrack-preview-bar jp-mltrack-artifact-filebar' },
      h('span', { class: 'jp-mltrack-muted-inline', text: 'File' }),
      chooser,
      h('span', {
        class: 'jp-mltrack-artifact-file-size',
        text: file ? formatBytes(file.size) : ''
      }),
      path !== null ? this._downloadButton(runId, artifact, path) : null
    );
  }

  private _downloadButton(
    runId: string,
    artifact: IArtifact,
    path: string,
    label = 'Download'
  ): HTMLElement {
    const button = h('button', {
      class: 'jp-mltrack-button jp-mltrack-download',
      text: label,
      title: `Download ${path}`,
      'data-path': path
    });
    button.addEventListener('click', async event => {
      event.stopPropagation();
      button.disabled = true;
      try {
        await downloadFile(runId, artifact.name, path);
      } catch (reason) {
        await showErrorMessage(`Cannot download ${path}`, reason as Error);
      } finally {
        button.disabled = false;
      }
    });
    return button;
  }

  /** Every file (up to MAX_LISTED_FILES), each with its Download. */
  private _fileList(runId: string, artifact: IArtifact): HTMLElement {
    const paths = orderedPaths(artifact);
    const sizes = new Map(artifact.files.map(f => [f.path, f.size]));
    const shown = paths.slice(0, MAX_LISTED_FILES);
    return h(
      'details',
      { class: 'jp-mltrack-artifact-files' },
      h('summary', { text: `Files (${paths.length})` }),
      h(
        'table',
        { class: 'jp-mltrack-kv' },
        h(
          'tbody',
          {},
          shown.map(p => {
            const open = h('a', {
              class: 'jp-mltrack-artifact-file-link',
              href: '#',
              text: p,
              title: `Preview ${p}`
            });
            open.addEventListener('click', event => {
              event.preventDefault();
              this._openFile(artifact, p);
            });
            return h(
              'tr',
              { 'data-path': p },
              h('td', {}, open),
              h('td', { text: formatBytes(sizes.get(p)) }),
              h('td', {}, this._downloadButton(runId, artifact, p))
            );
          })
        )
      ),
      paths.length > shown.length
        ? h('div', {
            class: 'jp-mltrack-muted',
            text: `${paths.length - shown.length} more: pick them above.`
          })
        : null
    );
  }

  /**
   * While `run` is running, ask for its artifacts every LIVE_MS (skipped
   * while the section is hidden) and show them when they changed.
   */
  private _watch(run: IRunDetail): void {
    if (run.status !== 'running') {
      this._stopWatching();
      return;
    }
    if (this._live !== null) {
      return;
    }
    const tick = async () => {
      const shown = this._run;
      if (this.isDisposed || !shown || shown.status !== 'running') {
        this._live = null;
        return;
      }
      if (this.isVisible) {
        try {
          const now = await fetchArtifacts(shown.id);
          const current = this._run;
          if (
            current?.id === shown.id &&
            listingKey(now.artifacts) !== listingKey(current.artifacts ?? [])
          ) {
            this.setRun({ ...current, ...now });
          }
        } catch {
          // the server is away or the run was deleted: the detail says so
        }
      }
      if (this._live !== null && !this.isDisposed) {
        this._live = window.setTimeout(() => void tick(), LIVE_MS);
      }
    };
    this._live = window.setTimeout(() => void tick(), LIVE_MS);
  }

  private _stopWatching(): void {
    if (this._live !== null) {
      window.clearTimeout(this._live);
      this._live = null;
    }
  }

  /** A model registered (here or in another detail): reload what shows it. */
  private _onRegistryChanged(_: unknown, change: IRegistryChange): void {
    const run = this._run;
    if (!run || this.isDisposed) {
      return;
    }
    const shows =
      change.runId === run.id ||
      (run.models ?? []).some(v => v.model === change.model);
    if (shows) {
      this._onChanged();
    }
  }

  private _rendermime: IRenderMimeRegistry;
  private _onChanged: () => void;
  private _run: IRunDetail | null = null;
  /** The artifact open: a series' step names its series. */
  private _open: {
    name: string;
    path: string | null;
    digest: string | null;
    series: string | null;
  } | null = null;
  /** The series open, as last listed. */
  private _series: IArtifactSeries | null = null;
  /** The timer asking for a running run's artifacts (`null`: none). */
  private _live: number | null = null;
  /** The open series' slider bar (moved in place, never rebuilt by a move). */
  private _stepBar: StepBar | null = null;
  /** Increases with every file opened: a late answer for an older one is dropped. */
  private _token = 0;
  private _list: Widget;
  private _box: Panel;
  private _info: Widget;
  private _content: Panel;
}

export namespace ArtifactsSection {
  export interface IOptions {
    rendermime: IRenderMimeRegistry;
    /** The registry changed what this run shows: reload the run. */
    onChanged: () => void;
  }
}
