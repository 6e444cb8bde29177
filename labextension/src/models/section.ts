/**
 * The Models section at the foot of the Runs sidebar: the registered models
 * (`GET models`), each opening to its description and its versions newest
 * first with their run, metrics, aliases, description and tags. A version's
 * run opens that run's detail; "Set alias…" moves or sets an alias in one
 * confirmed action; an alias's × deletes it (confirmed); "Describe…" and
 * "Tags…" edit the version's description and tags; "Lineage" shows how the
 * version was built. An opened model shows its own description and tags
 * above its versions; under them, "Describe…" and "Tags…" edit those (the
 * same dialogs as a version's) and "Delete model…" deletes the model
 * (confirmed, naming the versions and aliases that go with it).
 *
 * Plain DOM that the sidebar places under its list: it re-reads the
 * registry when the store changed (the sidebar's revision moved), when
 * this page changed the registry, and on Refresh.
 */

import {
  caretDownIcon,
  caretRightIcon,
  refreshIcon
} from '@jupyterlab/ui-components';

import { clear, h } from '../dom';
import { modelIcon } from '../icons';
import {
  deleteAliasFlow,
  deleteModelFlow,
  describeModelFlow,
  describeVersionFlow,
  setAliasFlow,
  tagModelFlow,
  tagVersionFlow
} from './actions';
import { getModel, listModels, registryChanged } from './api';
import {
  aliasEntries,
  metricsText,
  modelSummaryText,
  tagEntries,
  versionRunText,
  withVersion
} from './format';
import {
  IModelDetail,
  IModelListItem,
  IModelVersion,
  IRegisteredVersion
} from './types';

export class ModelsSection {
  constructor(options: ModelsSection.IOptions) {
    this._options = options;
    this._toggle = h('button', {
      class: 'jp-mltrack-models-toggle',
      'aria-expanded': 'false',
      title: 'Show the registered models'
    });
    this._toggle.addEventListener('click', () => {
      this.expanded = !this.expanded;
    });
    const refresh = h('button', {
      class: 'jp-mltrack-icon-button jp-mltrack-models-refresh',
      title: 'Refresh the models',
      'aria-label': 'Refresh the models'
    });
    refresh.appendChild(refreshIcon.element({ tag: 'span' }));
    refresh.addEventListener('click', () => void this.refresh());
    this._error = h('div', { class: 'jp-mltrack-error' });
    this._error.hidden = true;
    this._list = h('div', { class: 'jp-mltrack-models-list' });
    this._body = h(
      'div',
      { class: 'jp-mltrack-models-body' },
      this._error,
      this._list
    );
    this._body.hidden = true;
    this.node = h(
      'div',
      { class: 'jp-mltrack-models' },
      h('div', { class: 'jp-mltrack-models-header' }, this._toggle, refresh),
      this._body
    );
    this._renderToggle();
    registryChanged.connect(this._onRegistryChanged, this);
  }

  /** The section, for the sidebar to place. */
  readonly node: HTMLElement;

  /** Whether the list of models is shown. */
  get expanded(): boolean {
    return this._expanded;
  }

  set expanded(value: boolean) {
    this._expanded = value;
    this._body.hidden = !value;
    this.node.classList.toggle('jp-mod-expanded', value);
    this._renderToggle();
    if (value) {
      void this.refresh();
    }
  }

  /** The registered models last read. */
  get models(): IModelListItem[] {
    return this._models;
  }

  /** The store changed (the runs list's revision): read the registry again. */
  storeChanged(revision: string | null): void {
    if (revision === this._revision) {
      return;
    }
    this._revision = revision;
    void this.refresh();
  }

  /** Read the models, and the versions of those opened. */
  async refresh(): Promise<void> {
    const token = ++this._token;
    try {
      const models = await listModels();
      if (token !== this._token) {
        return;
      }
      this._models = models;
      this._showError(null);
      const names = new Set(models.map(m => m.name));
      for (const name of [...this._opened]) {
        if (!names.has(name)) {
          this._opened.delete(name);
          this._details.delete(name);
        }
      }
      this._render();
      if (this._expanded) {
        await Promise.all([...this._opened].map(name => this._loadModel(name)));
      }
    } catch (reason) {
      if (token === this._token) {
        this._showError(reason);
      }
    }
  }

  dispose(): void {
    registryChanged.disconnect(this._onRegistryChanged, this);
  }

  private _onRegistryChanged(): void {
    void this.refresh();
  }

  private _showError(reason: unknown): void {
    if (reason === null) {
      this._error.hidden = true;
      this._error.textContent = '';
      return;
    }
    const message = reason instanceof Error ? reason.message : String(reason);
    this._error.textContent = `Cannot load models: ${message}`;
    this._error.hidden = false;
  }

  private _renderToggle(): void {
    clear(this._toggle);
    const caret = this._expanded ? caretDownIcon : caretRightIcon;
    this._toggle.appendChild(caret.element({ tag: 'span' }));
    this._toggle.appendChild(modelIcon.element({ tag: 'span' }));
    this._toggle.appendChild(
      h('span', {
        class: 'jp-mltrack-models-title',
        text: `Models (${this._models.length})`
      })
    );
    this._toggle.setAttribute('aria-expanded', String(this._expanded));
  }

  private _render(): void {
    this._renderToggle();
    clear(this._list);
    if (this._models.length === 0) {
      this._list.appendChild(
        h('div', {
          class: 'jp-mltrack-muted',
          text: 'No registered models. Register one from a run\u2019s Artifacts, or with mltrack.register_model.'
        })
      );
      return;
    }
    for (const model of this._models) {
      this._list.appendChild(this._renderModel(model));
    }
  }

  private _renderModel(model: IModelListItem): HTMLElement {
    const opened = this._opened.has(model.name);
    const caret = (opened ? caretDownIcon : caretRightIcon).element({
      tag: 'span'
    });
    const row = h(
      'div',
      {
        class: 'jp-mltrack-model-row',
        tabindex: 0,
        role: 'button',
        'aria-expanded': String(opened),
        title: model.description || `Versions of ${model.name}`
      },
      caret,
      h('span', { class: 'jp-mltrack-model-name', text: model.name }),
      h('span', {
        class: 'jp-mltrack-model-summary',
        text: modelSummaryText(model)
      }),
      h(
        'span',
        { class: 'jp-mltrack-model-aliases' },
        aliasEntries(model.aliases).map(([alias, version]) =>
          h('span', {
            class: 'jp-mltrack-alias',
            text: `@${alias} v${version}`
          })
        )
      )
    );
    const toggle = () => {
      if (this._opened.has(model.name)) {
        this._opened.delete(model.name);
        this._render();
      } else {
        this._opened.add(model.name);
        this._render();
        void this._loadModel(model.name);
      }
    };
    row.addEventListener('click', toggle);
    row.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        toggle();
      }
    });
    const versions = h('div', { class: 'jp-mltrack-model-versions' });
    if (opened) {
      this._fillVersions(versions, model.name);
    }
    return h(
      'div',
      { class: 'jp-mltrack-model', 'data-model': model.name },
      row,
      opened ? versions : null
    );
  }

  private async _loadModel(name: string): Promise<void> {
    try {
      const detail = await getModel(name);
      this._details.set(name, detail);
      this._modelErrors.delete(name);
    } catch (reason) {
      this._modelErrors.set(
        name,
        reason instanceof Error ? reason.message : String(reason)
      );
    }
    this._rerenderModel(name);
  }

  private _rerenderModel(name: string): void {
    const box = Array.from(
      this._list.querySelectorAll<HTMLElement>('.jp-mltrack-model')
    ).find(node => node.dataset.model === name);
    const versions = box?.querySelector<HTMLElement>(
      '.jp-mltrack-model-versions'
    );
    if (versions) {
      this._fillVersions(versions, name);
    }
  }

  private _fillVersions(node: HTMLElement, name: string): void {
    clear(node);
    const error = this._modelErrors.get(name);
    if (error) {
      node.appendChild(
        h('div', {
          class: 'jp-mltrack-error',
          text: `Cannot load ${name}: ${error}`
        })
      );
    }
    const detail = this._details.get(name);
    if (!detail) {
      if (!error) {
        node.appendChild(
          h('div', { class: 'jp-mltrack-loading', text: 'Loading\u2026' })
        );
      }
      return;
    }
    if (detail.description) {
      node.appendChild(
        h('div', {
          class: 'jp-mltrack-model-description',
          text: detail.description
        })
      );
    }
    const tags = renderTags(detail.tags, 'jp-mltrack-model');
    if (tags) {
      node.appendChild(tags);
    }
    for (const version of detail.versions) {
      node.appendChild(this._renderVersion(detail, version));
    }
    node.appendChild(this._renderModelActions(detail));
  }

  /** Show `detail` at once, as a change made here returned it. */
  private _showDetail(detail: IModelDetail): void {
    this._details.set(detail.name, detail);
    this._rerenderModel(detail.name);
  }

  /**
   * A button that runs `flow` (a dialog, then a request) and shows what it
   * answers in place with `show`; nothing when cancelled or refused. The
   * model's and a version's Describe… and Tags… are each one of these.
   */
  private _action<T>(
    className: string,
    text: string,
    title: string,
    flow: () => Promise<T | null>,
    show: (answer: T) => void
  ): HTMLElement {
    const button = h('button', {
      class: `jp-mltrack-button ${className}`,
      text,
      title
    });
    button.addEventListener('click', async () => {
      const answer = await flow();
      if (answer) {
        show(answer);
      }
    });
    return button;
  }

  /**
   * A button of a version whose flow answers the version alone (a PATCH
   * of a version does not send its run's fields).
   */
  private _versionAction(
    name: string,
    className: string,
    text: string,
    title: string,
    flow: () => Promise<IRegisteredVersion | null>
  ): HTMLElement {
    return this._action(className, text, title, flow, updated =>
      this._showVersion(name, updated)
    );
  }

  /** Show `updated` in place of its version, the run's fields kept. */
  private _showVersion(name: string, updated: IRegisteredVersion): void {
    const detail = this._details.get(name);
    if (detail) {
      this._showDetail(withVersion(detail, updated));
    }
  }

  private _renderModelActions(detail: IModelDetail): HTMLElement {
    const name = detail.name;
    // the model as last read when clicked, not as when the button was made
    const current = () => this._details.get(name) ?? detail;
    const show = (updated: IModelDetail) => this._showDetail(updated);
    const describe = this._action(
      'jp-mltrack-describe-model',
      'Describe\u2026',
      `Describe ${name}: what it predicts, from what`,
      () => describeModelFlow(current()),
      show
    );
    const tag = this._action(
      'jp-mltrack-tag-model',
      'Tags\u2026',
      `Set or remove the tags of ${name} itself (team=growth, task=classification)`,
      () => tagModelFlow(current()),
      show
    );
    const remove = h('button', {
      class: 'jp-mltrack-button jp-mltrack-model-delete',
      text: 'Delete model\u2026',
      title: `Delete ${name} with its versions and aliases (the runs keep their models)`
    });
    remove.addEventListener('click', async () => {
      if (!(await deleteModelFlow(name))) {
        // cancelled, or refused: a refusal may be news (an alias set, the
        // model gone), so show the registry as it is now
        void this.refresh();
      }
    });
    return h(
      'div',
      { class: 'jp-mltrack-model-actions' },
      describe,
      tag,
      remove
    );
  }

  private _renderVersion(
    detail: IModelDetail,
    version: IModelVersion
  ): HTMLElement {
    const setAlias = this._action(
      'jp-mltrack-set-alias',
      'Set alias\u2026',
      `Point an alias (production, staging\u2026) at v${version.version}, moving it from another version`,
      () => setAliasFlow(detail, version.version),
      updated => this._showDetail(updated)
    );
    const describe = this._versionAction(
      detail.name,
      'jp-mltrack-describe-version',
      'Describe\u2026',
      `Describe v${version.version}: what changed, how it was checked`,
      () => describeVersionFlow(detail.name, version)
    );
    const tag = this._versionAction(
      detail.name,
      'jp-mltrack-tag-version',
      'Tags\u2026',
      `Set or remove the tags of v${version.version} (validation=passed, owner=ana)`,
      () => tagVersionFlow(detail.name, version)
    );
    const lineage = h('button', {
      class: 'jp-mltrack-button jp-mltrack-lineage-button',
      text: 'Lineage',
      title: `How v${version.version} was built: its run, code, data, parameters and environment`
    });
    lineage.addEventListener('click', () =>
      this._options.openLineage(detail.name, version.version)
    );
    const runLink = h('a', {
      class: 'jp-mltrack-model-run',
      href: '#',
      text: versionRunText(version),
      title: `Open the run that logged ${version.artifact}`
    });
    runLink.addEventListener('click', event => {
      event.preventDefault();
      this._options.openRun(version.run_id);
    });
    const aliases = version.aliases.map(alias => {
      const remove = h('button', {
        class: 'jp-mltrack-alias-delete',
        text: '\u00d7',
        title: `Delete @${alias}`,
        'aria-label': `Delete @${alias}`
      });
      remove.addEventListener('click', async () => {
        if (await deleteAliasFlow(detail.name, alias, version.version)) {
          await this._loadModel(detail.name);
        }
      });
      return h(
        'span',
        { class: 'jp-mltrack-alias', 'data-alias': alias },
        `@${alias}`,
        remove
      );
    });
    const facts = [version.experiment, metricsText(version.metrics)].filter(
      Boolean
    );
    return h(
      'div',
      {
        class: 'jp-mltrack-model-version',
        'data-version': version.version
      },
      h(
        'div',
        { class: 'jp-mltrack-model-version-line' },
        h('span', {
          class: 'jp-mltrack-model-version-number',
          text: `v${version.version}`
        }),
        aliases,
        h('span', { class: 'jp-mltrack-spacer' }),
        setAlias,
        describe,
        tag,
        lineage
      ),
      h(
        'div',
        { class: 'jp-mltrack-model-version-run' },
        runLink,
        facts.length > 0 ? ` \u00b7 ${facts.join(' \u00b7 ')}` : ''
      ),
      renderVersionNotes(version)
    );
  }

  private _options: ModelsSection.IOptions;
  private _expanded = false;
  private _models: IModelListItem[] = [];
  private _opened = new Set<string>();
  private _details = new Map<string, IModelDetail>();
  private _modelErrors = new Map<string, string>();
  private _revision: string | null | undefined = undefined;
  private _token = 0;
  private _toggle: HTMLButtonElement;
  private _error: HTMLDivElement;
  private _list: HTMLDivElement;
  private _body: HTMLDivElement;
}

/**
 * A version's description (one line, whole in its tooltip) and its tags as
 * `key=value` chips; nothing when it has neither.
 */
function renderVersionNotes(version: IModelVersion): HTMLElement[] {
  const notes: HTMLElement[] = [];
  if (version.description) {
    notes.push(
      h('div', {
        class: 'jp-mltrack-version-description',
        text: version.description,
        title: version.description
      })
    );
  }
  const tags = renderTags(version.tags, 'jp-mltrack-version');
  if (tags) {
    notes.push(tags);
  }
  return notes;
}

/**
 * Tags as `key=value` chips, by key, whole in their tooltips; `null` when
 * there are none. A model's and a version's look alike (models.css), with
 * classes of their own (`jp-mltrack-model-tag`, `jp-mltrack-version-tag`):
 * the model's sit above its versions' in the same box, and a run's tags
 * already own `jp-mltrack-tag`.
 */
function renderTags(
  tags: { [key: string]: string } | undefined,
  prefix: 'jp-mltrack-model' | 'jp-mltrack-version'
): HTMLElement | null {
  const entries = tagEntries(tags ?? {});
  if (entries.length === 0) {
    return null;
  }
  return h(
    'div',
    { class: `${prefix}-tags` },
    entries.map(([key, value]) =>
      h('span', {
        class: `${prefix}-tag`,
        'data-tag': key,
        text: `${key}=${value}`,
        title: `${key}=${value}`
      })
    )
  );
}

export namespace ModelsSection {
  export interface IOptions {
    /** Open a run's detail. */
    openRun: (id: string) => void;
    /** Show the lineage of a version. */
    openLineage: (model: string, version: number) => void;
  }
}
