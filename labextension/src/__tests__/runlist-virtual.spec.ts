import { scrollToReveal, virtualWindow } from '../runlist/virtual';

describe('virtualWindow', () => {
  it('draws the rows in view and the overscan, spacers for the rest', () => {
    const win = virtualWindow({
      scrollTop: 2400,
      height: 480,
      rowHeight: 24,
      count: 100_000,
      overscan: 5
    });
    expect(win).toEqual({
      first: 95,
      end: 125,
      visibleFirst: 100,
      visibleEnd: 120,
      topSpace: 95 * 24,
      bottomSpace: (100_000 - 125) * 24,
      totalHeight: 2_400_000
    });
    // The spacers and the drawn rows add up to the whole list.
    expect(win.topSpace + (win.end - win.first) * 24 + win.bottomSpace).toBe(
      win.totalHeight
    );
  });

  it('counts a sticky header out of the rows in view', () => {
    const win = virtualWindow({
      scrollTop: 0,
      height: 124,
      rowHeight: 20,
      count: 50,
      overscan: 0,
      headerHeight: 24
    });
    expect([win.visibleFirst, win.visibleEnd]).toEqual([0, 5]);
  });

  it('clips at both ends and past the end of a shorter list', () => {
    expect(
      virtualWindow({ scrollTop: 0, height: 300, rowHeight: 24, count: 3 })
    ).toMatchObject({ first: 0, end: 3, topSpace: 0, bottomSpace: 0 });
    // Scrolled past the end (the list shrank): the last screenful.
    const win = virtualWindow({
      scrollTop: 1e6,
      height: 240,
      rowHeight: 24,
      count: 100,
      overscan: 2
    });
    expect([win.visibleFirst, win.visibleEnd, win.first, win.end]).toEqual([
      90, 100, 88, 100
    ]);
    expect(
      virtualWindow({ scrollTop: -50, height: 0, rowHeight: 24, count: 0 })
    ).toMatchObject({ first: 0, end: 0, totalHeight: 0 });
  });
});

describe('scrollToReveal', () => {
  const viewport = { scrollTop: 240, height: 240, rowHeight: 24, count: 1000 };

  it('scrolls as little as possible', () => {
    expect(scrollToReveal(12, viewport)).toBeNull();
    expect(scrollToReveal(5, viewport)).toBe(120);
    expect(scrollToReveal(20, viewport)).toBe(21 * 24 - 240);
    expect(scrollToReveal(19, { ...viewport, headerHeight: 24 })).toBe(
      20 * 24 - 216
    );
  });
});
