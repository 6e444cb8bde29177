/**
 * A tiny DOM builder. Text always goes through `textContent`: nothing the
 * server sends is ever parsed as HTML.
 */
export type Child = Node | string | number | null | undefined | false | Child[];

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: { [key: string]: string | number | boolean | undefined } = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) {
      continue;
    }
    if (key === 'class') {
      el.className = String(value);
    } else if (key === 'text') {
      el.textContent = String(value);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

/** Append children (nested arrays flattened, empty values skipped). */
export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (Array.isArray(child)) {
      append(parent, child);
    } else if (child === null || child === undefined || child === false) {
      continue;
    } else if (typeof child === 'string' || typeof child === 'number') {
      parent.appendChild(document.createTextNode(String(child)));
    } else {
      parent.appendChild(child);
    }
  }
}

/** Remove every child of a node. */
export function clear(node: Node): void {
  while (node.firstChild) {
    node.removeChild(node.firstChild);
  }
}

/** Name of the DOM event a run card dispatches to open a run's detail. */
export const OPEN_RUN_EVENT = 'jp-mltrack-open-run';

/**
 * Name of the DOM event a dataset reference (`team/churn@<hash>`, in a run's
 * inputs) dispatches to open the Datasets view on that version.
 */
export const OPEN_DATASET_EVENT = 'jp-mltrack-open-dataset';

/** `row`, which `act` answers a click, Enter or Space on (it is focusable). */
export function onActivate(row: HTMLElement, act: () => void): HTMLElement {
  row.addEventListener('click', act);
  row.addEventListener('keydown', event => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      act();
    }
  });
  return row;
}
