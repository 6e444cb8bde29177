/**
 * The filter box: what is typed goes to the server as `filter=` once the
 * user pauses (the server decides whether it is plain text or a query), and
 * a query the server cannot parse comes back as a message pointing at a
 * column, shown under the box with a caret under that column.
 */

import { IQueryError } from './api';

/** How long typing must pause before the filter is applied, in ms. */
export const FILTER_DELAY = 300;

/**
 * The query error of a refused request: the `query_error` the server put in
 * its error object (`{"error": {…, "reason": "query", "query_error": …}}`),
 * or `null` for any other failure.
 */
export function queryErrorOf(reason: unknown): IQueryError | null {
  if (typeof reason !== 'object' || reason === null) {
    return null;
  }
  const body = (reason as { error?: unknown }).error;
  const candidates = [
    body && typeof body === 'object'
      ? (body as { query_error?: unknown }).query_error
      : undefined,
    (reason as { query_error?: unknown }).query_error
  ];
  for (const candidate of candidates) {
    if (typeof candidate !== 'object' || candidate === null) {
      continue;
    }
    const { message, column, position } = candidate as Partial<IQueryError>;
    if (typeof message !== 'string') {
      continue;
    }
    const col =
      typeof column === 'number' && column >= 1
        ? Math.floor(column)
        : typeof position === 'number' && position >= 0
          ? Math.floor(position) + 1
          : 1;
    return {
      message,
      column: col,
      position: typeof position === 'number' ? position : col - 1
    };
  }
  return null;
}

/** A query error laid out for the sidebar. */
export interface IQueryErrorView {
  /** `expected a value at column 11`. */
  message: string;
  /** The part of the query around the error (the whole query if short). */
  excerpt: string;
  /** Spaces, then `^` under the column in `excerpt`. */
  caret: string;
}

/**
 * Lay out an error in `text`: the message, then at most `width` characters
 * of the query around the error column with a caret line under it (the
 * sidebar is narrow; `…` marks what was cut).
 */
export function describeQueryError(
  text: string,
  error: IQueryError,
  width = 40
): IQueryErrorView {
  const line = text.replace(/[\r\n\t]/g, ' ');
  const at = clampInt(error.column - 1, 0, line.length);
  const message = /\bcolumn\s+\d+/.test(error.message)
    ? error.message
    : `${error.message} at column ${error.column}`;
  if (line.length <= width) {
    return { message, excerpt: line, caret: `${' '.repeat(at)}^` };
  }
  // Keep the error column a third of the way in.
  let start = Math.max(0, at - Math.floor(width / 3));
  const end = Math.min(line.length, start + width);
  start = Math.max(0, end - width);
  const before = start > 0 ? '\u2026' : '';
  const after = end < line.length ? '\u2026' : '';
  return {
    message,
    excerpt: `${before}${line.slice(start, end)}${after}`,
    caret: `${' '.repeat(before.length + at - start)}^`
  };
}

/**
 * Call `apply` with the latest value once `delay` ms pass without a new
 * one; `flush` applies at once (Enter in the box).
 */
export class Debouncer<T> {
  constructor(
    private readonly _apply: (value: T) => void,
    readonly delay = FILTER_DELAY
  ) {}

  /** Whether a value waits to be applied. */
  get pending(): boolean {
    return this._timer !== null;
  }

  /** A new value: restart the wait. */
  schedule(value: T): void {
    this.cancel();
    this._value = value;
    this._hasValue = true;
    this._timer = setTimeout(() => this.flush(), this.delay);
  }

  /** Apply the waiting value now, if there is one. */
  flush(): void {
    this.cancel();
    if (this._hasValue) {
      const value = this._value as T;
      this._hasValue = false;
      this._value = undefined;
      this._apply(value);
    }
  }

  /** Forget the timer (the value stays until `flush`). */
  cancel(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  /** Drop the waiting value. */
  dispose(): void {
    this.cancel();
    this._hasValue = false;
    this._value = undefined;
  }

  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _value: T | undefined = undefined;
  private _hasValue = false;
}

function clampInt(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.floor(n)));
}
