/**
 * The window of a virtualised list with rows of one fixed height: which rows
 * a scroll position shows, how many to draw around them, and the heights of
 * the spacers that stand for the rows not drawn, so that the scrollbar is
 * the whole list's.
 */

/** Where the list is scrolled to. */
export interface IViewport {
  /** `scrollTop` of the scrolling element. */
  scrollTop: number;
  /** Its `clientHeight`. */
  height: number;
  /** Height of every row, in pixels. */
  rowHeight: number;
  /** Rows in the list. */
  count: number;
  /** Rows drawn past each edge of the view, so a small scroll shows drawn rows. */
  overscan?: number;
  /**
   * Height of what sits above the rows in the scrolling element and stays on
   * screen (a sticky header): it hides the rows under it.
   */
  headerHeight?: number;
}

/** The rows to draw. */
export interface IWindow {
  /** First row drawn. */
  first: number;
  /** One past the last row drawn. */
  end: number;
  /** First row at least partly in view. */
  visibleFirst: number;
  /** One past the last row at least partly in view. */
  visibleEnd: number;
  /** Height of the spacer above the drawn rows. */
  topSpace: number;
  /** Height of the spacer below them. */
  bottomSpace: number;
  /** Height of all the rows. */
  totalHeight: number;
}

/** The window of rows for a viewport. */
export function virtualWindow(viewport: IViewport): IWindow {
  const count = Math.max(0, Math.floor(viewport.count));
  const rowHeight = Math.max(1, viewport.rowHeight);
  const overscan = Math.max(0, Math.floor(viewport.overscan ?? 10));
  const header = Math.max(0, viewport.headerHeight ?? 0);
  const totalHeight = count * rowHeight;
  // Rows are visible between the bottom of the header and the bottom of the view.
  const maxScroll = Math.max(0, totalHeight + header - viewport.height);
  const top = clamp(viewport.scrollTop, 0, maxScroll);
  const rowsHeight = Math.max(0, viewport.height - header);
  const visibleFirst = clamp(Math.floor(top / rowHeight), 0, count);
  const visibleEnd = clamp(
    Math.ceil((top + rowsHeight) / rowHeight),
    visibleFirst,
    count
  );
  const first = Math.max(0, visibleFirst - overscan);
  const end = Math.min(count, visibleEnd + overscan);
  return {
    first,
    end,
    visibleFirst,
    visibleEnd,
    topSpace: first * rowHeight,
    bottomSpace: (count - end) * rowHeight,
    totalHeight
  };
}

/**
 * The `scrollTop` that brings a row fully into view (scrolling as little as
 * possible), or `null` when it is in view already.
 */
export function scrollToReveal(
  index: number,
  viewport: IViewport
): number | null {
  const rowHeight = Math.max(1, viewport.rowHeight);
  const header = Math.max(0, viewport.headerHeight ?? 0);
  const rowTop = index * rowHeight;
  const rowsHeight = Math.max(rowHeight, viewport.height - header);
  if (rowTop < viewport.scrollTop) {
    return rowTop;
  }
  if (rowTop + rowHeight > viewport.scrollTop + rowsHeight) {
    return rowTop + rowHeight - rowsHeight;
  }
  return null;
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}
