/**
 * The blocks a run's detail is made of (a titled section, a key/value
 * table, a sparkline, the environment), shared with the lineage view of a
 * model version, which shows the same facts of the run that built it.
 */

import { h } from './dom';
import {
  IRunDetail,
  ISnapshotRows,
  JSONValue,
  formatValue,
  previewTable,
  sparklinePoints
} from './model';

/** A titled section (`<h3>` then its content). */
export function section(
  title: string,
  className: string,
  content: HTMLElement
): HTMLElement {
  return h(
    'section',
    { class: `jp-mltrack-section ${className}` },
    h('h3', { class: 'jp-mltrack-section-title', text: title }),
    content
  );
}

/**
 * Label/value pairs as a facts list: each value titled in full (it may be
 * cut with an ellipsis) and named by its label in `data-fact`.
 */
export function factList(
  pairs: [string, string][],
  className = ''
): HTMLElement {
  return h(
    'dl',
    { class: `jp-mltrack-facts${className ? ` ${className}` : ''}` },
    pairs.map(([k, v]) => [
      h('dt', { text: k }),
      h('dd', { text: v, title: v, 'data-fact': k })
    ])
  );
}

/** A table of keys and values, or `emptyText` when there are none. */
export function keyValueTable(
  values: { [key: string]: JSONValue } | null | undefined,
  emptyText: string,
  nullText = 'None'
): HTMLElement {
  const entries = Object.entries(values || {});
  if (entries.length === 0) {
    return h('div', { class: 'jp-mltrack-muted', text: emptyText });
  }
  return h(
    'table',
    { class: 'jp-mltrack-kv' },
    h(
      'tbody',
      {},
      entries.map(([k, v]) =>
        h(
          'tr',
          { 'data-key': k },
          h('td', { class: 'jp-mltrack-key', text: k }),
          h('td', {
            class: 'jp-mltrack-value',
            text: v === null ? nullText : formatValue(v)
          })
        )
      )
    )
  );
}

/** A metric's values as a small line. */
export function sparkline(values: (number | null)[]): Element | string {
  const width = 80;
  const height = 20;
  const points = sparklinePoints(values, width, height);
  if (!points) {
    return '';
  }
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'jp-mltrack-sparkline');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', points);
  svg.appendChild(line);
  return svg;
}

/** The environment of a run: Python, platform, git, then its packages. */
export function renderEnvironment(run: IRunDetail): HTMLElement {
  const env = run.environment || {};
  const { packages, git, ...rest } = env as {
    packages?: { [name: string]: JSONValue };
    git?: { [key: string]: JSONValue } | null;
    [key: string]: JSONValue | undefined;
  };
  const flat: { [key: string]: JSONValue } = {};
  for (const [k, v] of Object.entries(rest)) {
    if (v !== undefined) {
      flat[k] = v;
    }
  }
  if (git && typeof git === 'object') {
    for (const [k, v] of Object.entries(git)) {
      flat[`git ${k}`] = v;
    }
  }
  const children: HTMLElement[] = [
    keyValueTable(flat, 'No environment captured.', '—')
  ];
  const pkgs = Object.entries(packages || {});
  if (pkgs.length > 0) {
    children.push(
      h(
        'details',
        { class: 'jp-mltrack-packages' },
        h('summary', { text: `Packages (${pkgs.length})` }),
        keyValueTable(Object.fromEntries(pkgs), '', '—')
      )
    );
  }
  return h('div', {}, children);
}

/**
 * One page of a dataset preview: its rows with Previous and Next, which ask
 * `onOffset` for the page before or after (`pageSize` rows each).
 */
export function rowsPage(
  page: ISnapshotRows,
  pageSize: number,
  onOffset: (offset: number) => void
): HTMLElement {
  const layout = previewTable(page);
  const prev = h('button', {
    class: 'jp-mltrack-button jp-mltrack-preview-prev',
    text: 'Previous',
    disabled: page.offset === 0
  });
  prev.addEventListener('click', () =>
    onOffset(Math.max(0, page.offset - pageSize))
  );
  const next = h('button', {
    class: 'jp-mltrack-button jp-mltrack-preview-next',
    text: 'Next',
    disabled: page.offset + page.rows.length >= page.total_rows
  });
  next.addEventListener('click', () => onOffset(page.offset + pageSize));
  const head = h(
    'tr',
    {},
    layout.header.map((text, i) =>
      h('th', {
        class:
          i < layout.indexColumns
            ? 'jp-mltrack-preview-index'
            : 'jp-mltrack-preview-column',
        text,
        title:
          i < layout.indexColumns
            ? undefined
            : page.dtypes[i - layout.indexColumns]
      })
    )
  );
  const body = h(
    'tbody',
    {},
    layout.rows.map(cells =>
      h(
        'tr',
        {},
        cells.map((cell, i) =>
          h(i < layout.indexColumns ? 'th' : 'td', {
            class: `${
              i < layout.indexColumns ? 'jp-mltrack-preview-index ' : ''
            }jp-mltrack-cell-${cell.kind}`,
            text: cell.text
          })
        )
      )
    )
  );
  return h(
    'div',
    {},
    h(
      'div',
      { class: 'jp-mltrack-preview-bar' },
      h('span', {
        class: 'jp-mltrack-preview-caption',
        text: layout.caption
      }),
      h('span', { class: 'jp-mltrack-spacer' }),
      prev,
      next
    ),
    h(
      'div',
      { class: 'jp-mltrack-preview-scroll' },
      h(
        'table',
        { class: 'jp-mltrack-preview-table' },
        h('thead', {}, head),
        body
      )
    )
  );
}
