import { MergeView } from '@codemirror/merge';
import { Compartment, EditorState, Extension } from '@codemirror/state';
import { EditorView, lineNumbers } from '@codemirror/view';
import { EditorLanguageRegistry, jupyterTheme } from '@jupyterlab/codemirror';

import { clear, h } from '../dom';
import { CompareChange, CompareModel, ITextDiff } from './model';
import { BodyTab, answerStatus, muted } from './tab';

/**
 * Code: each run's cell and the code it depended on, side by side with the
 * baseline's in CodeMirror's merge view.
 */
export class CodeTab extends BodyTab {
  constructor(model: CompareModel) {
    super(model, 'Code', 'jp-mltrack-compare-code');
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._destroyViews();
    super.dispose();
  }

  protected render(change: CompareChange): void {
    const comparison = this.model.comparison;
    // Merge views are costly: rebuild them only when what they show changed.
    if (!this.shownChanged(c => [c.runs.map(run => run.id), c.code])) {
      return;
    }
    this._destroyViews();
    const node = this.body.node;
    clear(node);
    if (!comparison) {
      node.appendChild(answerStatus(this.model));
      return;
    }
    const code = comparison.code;
    if (!code || !Array.isArray(code.runs) || code.runs.length === 0) {
      node.appendChild(muted('No code recorded.'));
      return;
    }
    const base = comparison.runs[0];
    const baseCode = code.runs[0];
    let shown = 0;
    for (let i = 1; i < comparison.runs.length; i++) {
      const run = comparison.runs[i];
      const theirs = code.runs[i] ?? { cell: '', dependencies: null };
      const diff = code.diffs?.[i] ?? null;
      const same =
        !!diff &&
        diff.cell?.same !== false &&
        diff.dependencies?.same !== false;
      if (same && this.model.differencesOnly) {
        node.appendChild(
          h(
            'div',
            { class: 'jp-mltrack-compare-code-same', 'data-run-id': run.id },
            h('span', {
              class: 'jp-mltrack-compare-run-label',
              text: run.label
            }),
            ` runs the same code as ${base.label}.`
          )
        );
        continue;
      }
      shown++;
      const section = h(
        'section',
        { class: 'jp-mltrack-compare-code-run', 'data-run-id': run.id },
        h('h3', {
          class: 'jp-mltrack-section-title',
          text: `${base.label} \u2192 ${run.label}`
        })
      );
      node.appendChild(section);
      section.appendChild(
        this._merge(
          'Cell',
          baseCode?.cell ?? '',
          theirs.cell ?? '',
          diff?.cell ?? null,
          base.label,
          run.label
        )
      );
      const deps = [baseCode?.dependencies ?? null, theirs.dependencies];
      if (deps[0] === null && deps[1] === null) {
        section.appendChild(
          muted(
            'No dependencies: the execution log did not see what these cells read.'
          )
        );
      } else if (!deps[0] && !deps[1]) {
        section.appendChild(
          muted(
            'No dependencies: these cells read nothing that earlier cells produced.'
          )
        );
      } else {
        section.appendChild(
          this._merge(
            'Dependencies',
            deps[0] ?? '',
            deps[1] ?? '',
            diff?.dependencies ?? null,
            base.label,
            run.label
          )
        );
      }
    }
    if (
      shown === 0 &&
      comparison.runs.length > 1 &&
      !this.model.differencesOnly
    ) {
      node.appendChild(muted('Every run runs the same code.'));
    }
  }

  /** A titled merge view of `a` (baseline) and `b`. */
  private _merge(
    title: string,
    a: string,
    b: string,
    diff: ITextDiff | null,
    aLabel: string,
    bLabel: string
  ): HTMLElement {
    const same = diff ? diff.same : a === b;
    const host = h('div', { class: 'jp-mltrack-compare-merge' });
    const block = h(
      'div',
      {
        class: `jp-mltrack-compare-code-block${same ? ' jp-mltrack-compare-code-unchanged' : ''}`,
        'data-part': title.toLowerCase()
      },
      h(
        'div',
        { class: 'jp-mltrack-compare-code-title' },
        h('span', { text: title }),
        h('span', {
          class: 'jp-mltrack-muted',
          text: same ? ' \u00b7 unchanged' : ''
        }),
        h('span', { class: 'jp-mltrack-spacer' }),
        h('span', { class: 'jp-mltrack-compare-code-side', text: aLabel }),
        h('span', { class: 'jp-mltrack-compare-code-side', text: bLabel })
      ),
      host
    );
    const extensions = (): Extension[] => [
      EditorState.readOnly.of(true),
      EditorView.editable.of(false),
      lineNumbers(),
      jupyterTheme,
      this._language.of([])
    ];
    const view = new MergeView({
      a: { doc: a, extensions: extensions() },
      b: { doc: b, extensions: extensions() },
      parent: host,
      highlightChanges: true,
      gutter: true,
      collapseUnchanged: { margin: 3, minSize: 6 }
    });
    this._views.push(view);
    // Python highlighting arrives once the language is loaded.
    void pythonSupport().then(support => {
      if (!support || !this._views.includes(view)) {
        return;
      }
      for (const editor of [view.a, view.b]) {
        editor.dispatch({ effects: this._language.reconfigure(support) });
      }
    });
    return block;
  }

  private _destroyViews(): void {
    for (const view of this._views) {
      view.destroy();
    }
    this._views = [];
  }

  private _views: MergeView[] = [];
  /** The editors' language: none until Python support is loaded. */
  private _language = new Compartment();
}

let python: Promise<Extension | null> | null = null;

/** Python syntax support from JupyterLab's own language list (loaded once). */
function pythonSupport(): Promise<Extension | null> {
  if (!python) {
    python = (async () => {
      try {
        const registry = new EditorLanguageRegistry();
        for (const language of EditorLanguageRegistry.getDefaultLanguages()) {
          registry.addLanguage(language);
        }
        const language = await registry.getLanguage('python');
        return language?.support ?? null;
      } catch (reason) {
        console.warn(
          'mltrack: no Python highlighting in the code diff',
          reason
        );
        return null;
      }
    })();
  }
  return python;
}
