/**
 * The view of a snapshot diff, shared by the compare view's Data tab (two
 * runs' data) and the Datasets view (two versions of a dataset): one way to
 * show what changed, whichever way the data was named.
 */

import { h } from './dom';
import { formatNumber } from './model';

function muted(text: string): HTMLElement {
  return h('div', { class: 'jp-mltrack-muted', text });
}

/**
 * The `snapshots/{a}/diff/{b}` answer (see docs/rest-api.md), summarised
 * under `title`: whether the data is the same, rows, schema changes, and
 * the changed columns with their blocks, means and drift.
 */
export function snapshotDiffView(
  diff: { [key: string]: any },
  title: string
): HTMLElement {
  const lines: (HTMLElement | null)[] = [];
  if (diff.identical) {
    lines.push(muted('The snapshots hold the same data.'));
  }
  if (diff.files) {
    lines.push(
      h('div', {
        text: `File ${diff.files.a_size} \u2192 ${diff.files.b_size} bytes${
          diff.files.same_content ? ' (same content)' : ''
        }`
      })
    );
  }
  if (diff.rows) {
    lines.push(
      h('div', {
        text: `Rows ${diff.rows.a} \u2192 ${diff.rows.b}${
          diff.rows.delta
            ? ` (${diff.rows.delta > 0 ? '+' : ''}${diff.rows.delta})`
            : ''
        }${diff.appended_rows ? `, ${diff.appended_rows} appended` : ''}`
      })
    );
  }
  const schema = diff.schema || {};
  const schemaParts: string[] = [];
  if (schema.added?.length) {
    schemaParts.push(`added ${schema.added.join(', ')}`);
  }
  if (schema.removed?.length) {
    schemaParts.push(`removed ${schema.removed.join(', ')}`);
  }
  if (schema.dtype_changed?.length) {
    schemaParts.push(
      `types ${schema.dtype_changed
        .map((c: any) => `${c.name} ${c.a} \u2192 ${c.b}`)
        .join(', ')}`
    );
  }
  if (schema.order_changed) {
    schemaParts.push('column order changed');
  }
  if (schema.index_changed) {
    schemaParts.push('index changed');
  }
  if (schemaParts.length) {
    lines.push(h('div', { text: `Schema: ${schemaParts.join('; ')}` }));
  }
  const columns = (diff.columns || []).filter(
    (c: any) => c.status !== 'unchanged'
  );
  if (columns.length) {
    lines.push(
      h(
        'table',
        { class: 'jp-mltrack-kv jp-mltrack-compare-column-diff' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { text: 'Column' }),
            h('th', { text: 'Status' }),
            h('th', { text: 'Changed blocks' }),
            h('th', { text: 'Mean' }),
            h('th', { text: 'Drift' })
          )
        ),
        h(
          'tbody',
          {},
          columns.map((c: any) =>
            h(
              'tr',
              {},
              h('td', { text: c.name }),
              h('td', { text: c.status }),
              h('td', {
                text:
                  c.changed_blocks !== undefined && c.blocks !== undefined
                    ? `${c.changed_blocks} / ${c.blocks}`
                    : ''
              }),
              h('td', { text: meanText(c.stats) }),
              h('td', {
                text:
                  typeof c.drift === 'number'
                    ? formatNumber(Number(c.drift.toFixed(3)))
                    : ''
              })
            )
          )
        )
      )
    );
  }
  return h(
    'div',
    { class: 'jp-mltrack-compare-snapshot-diff-view' },
    h('div', {
      class: 'jp-mltrack-compare-snapshot-diff-title',
      text: title
    }),
    lines
  );
}

function meanText(stats: any): string {
  const a = stats?.a?.mean;
  const b = stats?.b?.mean;
  if (typeof a !== 'number' && typeof b !== 'number') {
    return '';
  }
  const f = (v: any) => (typeof v === 'number' ? formatNumber(v) : '\u2014');
  return `${f(a)} \u2192 ${f(b)}`;
}
