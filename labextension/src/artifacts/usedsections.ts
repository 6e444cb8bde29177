/**
 * The "Used" and "Used by" sections: what a run loaded from other runs'
 * artifacts, and the runs that loaded its own (a model's evaluations).
 * A run's detail and a model version's lineage show them the same; every
 * run named is a link to its detail. Their texts are in ./uses.
 */

import { OPEN_RUN_EVENT, h } from '../dom';
import { statusClass } from '../model';
import { metricsText } from '../models/format';
import { section } from '../sections';
import { IArtifactUse, IArtifactUsers } from './types';
import {
  moreUsersText,
  runRefText,
  useGoneText,
  useSourceText,
  useTitle,
  useVersionText
} from './uses';

export interface IUsedSectionOptions {
  /**
   * Open a run's detail; by default a link asks the page to (the
   * `OPEN_RUN_EVENT` the extension answers).
   */
  openRun?: (id: string) => void;
  /** Shown when there is nothing to list; without it, no section then. */
  emptyText?: string;
}

/** A link to the detail of run `runId`. */
function runLink(
  text: string,
  runId: string,
  className: string,
  openRun: ((id: string) => void) | undefined
): HTMLElement {
  const link = h('a', {
    class: `jp-mltrack-use-run ${className}`,
    href: '#',
    'data-run-id': runId,
    text,
    title: `Open run ${text}`
  });
  link.addEventListener('click', event => {
    event.preventDefault();
    event.stopPropagation();
    if (openRun) {
      openRun(runId);
    } else {
      link.dispatchEvent(
        new CustomEvent(OPEN_RUN_EVENT, { bubbles: true, detail: { runId } })
      );
    }
  });
  return link;
}

/**
 * A reference in code type that a narrow column wraps after a `/` or `@`
 * (`models:/ churn@ production`) rather than anywhere.
 */
export function refCode(ref: string, className: string): HTMLElement {
  const parts = ref.split(/(?<=[/@])/);
  return h(
    'code',
    { class: className },
    parts.map((part, i) => (i === 0 ? part : [h('wbr'), part]))
  );
}

/** The reference as written, and the version it resolved to (`churn v2`). */
function refCell(use: IArtifactUse): HTMLElement {
  const version = useVersionText(use);
  return h(
    'td',
    { class: 'jp-mltrack-use-ref-cell', title: useTitle(use) },
    refCode(use.ref, 'jp-mltrack-use-ref'),
    version
      ? h('span', { class: 'jp-mltrack-use-version', text: version })
      : null
  );
}

function usesTable(headers: string[], rows: HTMLElement[]): HTMLElement {
  return h(
    'table',
    { class: 'jp-mltrack-kv jp-mltrack-uses-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map(text => h('th', { text }))
      )
    ),
    h('tbody', {}, rows)
  );
}

/**
 * "Used": each artifact of another run this run loaded, in order: the
 * reference it was loaded by, the version that resolved to, and the run
 * that logged it (muted "(not in this store)" or "(artifact deleted)" once
 * that run or artifact is gone).
 */
export function usedSection(
  uses: IArtifactUse[],
  options: IUsedSectionOptions = {}
): HTMLElement | null {
  if (uses.length === 0) {
    return emptySection('Used', 'jp-mltrack-used', options.emptyText);
  }
  const rows = uses.map(use => {
    const source = useSourceText(use);
    const gone = useGoneText(use);
    return h(
      'tr',
      {
        class: 'jp-mltrack-use',
        'data-ref': use.ref,
        'data-source-run-id': use.source_run_id
      },
      refCell(use),
      h(
        'td',
        { class: 'jp-mltrack-use-source' },
        use.source_number === null
          ? h('span', { text: source })
          : runLink(
              source,
              use.source_run_id,
              'jp-mltrack-use-source-run',
              options.openRun
            ),
        gone ? h('span', { class: 'jp-mltrack-use-gone', text: gone }) : null
      ),
      h('td', { class: 'jp-mltrack-use-how' }, h('code', { text: use.how }))
    );
  });
  return section(
    `Used (${uses.length})`,
    'jp-mltrack-used',
    usesTable(['Reference', 'Logged by', 'Read with'], rows)
  );
}

/**
 * "Used by": the runs that loaded this run's artifacts (or this model),
 * newest first, each with its status, what it loaded by, and its first
 * metrics; "… N more" past those listed.
 */
export function usedBySection(
  users: IArtifactUsers,
  options: IUsedSectionOptions = {}
): HTMLElement | null {
  if (users.count === 0 || users.runs.length === 0) {
    return emptySection('Used by', 'jp-mltrack-used-by', options.emptyText);
  }
  const rows = users.runs.map(use =>
    h(
      'tr',
      { class: 'jp-mltrack-user', 'data-run-id': use.run_id },
      h(
        'td',
        { class: 'jp-mltrack-user-run' },
        runLink(
          runRefText(use.run_number, use.run_experiment, use.run_id),
          use.run_id,
          'jp-mltrack-user-link',
          options.openRun
        )
      ),
      h(
        'td',
        {},
        use.status
          ? h('span', {
              class: `jp-mltrack-status ${statusClass(use.status)}`,
              text: use.status
            })
          : null
      ),
      refCell(use),
      h('td', {
        class: 'jp-mltrack-user-metrics',
        text: metricsText(use.metrics)
      })
    )
  );
  const more = moreUsersText(users);
  return section(
    `Used by (${users.count.toLocaleString('en-US')})`,
    'jp-mltrack-used-by',
    h(
      'div',
      {},
      usesTable(['Run', 'Status', 'Used', 'Metrics'], rows),
      more ? h('div', { class: 'jp-mltrack-users-more', text: more }) : null
    )
  );
}

function emptySection(
  title: string,
  className: string,
  emptyText: string | undefined
): HTMLElement | null {
  return emptyText === undefined
    ? null
    : section(
        title,
        className,
        h('div', { class: 'jp-mltrack-muted', text: emptyText })
      );
}
