import { emptyText, footerText, hiddenSelected } from '../runlist/status';

describe('footerText', () => {
  it('tells the total, a new list coming, the selection and the time', () => {
    expect(
      footerText({ total: 2000, loading: false, selected: 0, updatedAt: '' })
    ).toBe('2,000 runs');
    expect(
      footerText({
        total: 1,
        loading: true,
        selected: 3,
        updatedAt: '12:00:01'
      })
    ).toBe(
      '1 run \u00b7 filtering\u2026 \u00b7 3 selected \u00b7 updated 12:00:01'
    );
    expect(
      footerText({ total: null, loading: false, selected: 0, updatedAt: '' })
    ).toBe('');
  });

  it('tells a list not counted yet by its first page, and the count coming', () => {
    expect(
      footerText({
        total: 100,
        more: true,
        counting: true,
        loading: false,
        selected: 0,
        updatedAt: '12:00:01'
      })
    ).toBe('100+ runs \u00b7 counting\u2026 \u00b7 updated 12:00:01');
    // A count that failed is asked for again at the next tick: no promise.
    expect(
      footerText({
        total: 1000,
        more: true,
        counting: false,
        loading: false,
        selected: 2,
        updatedAt: ''
      })
    ).toBe('1,000+ runs \u00b7 2 selected');
    // A first page that holds the whole list needs no count to be told.
    expect(
      footerText({
        total: 1,
        more: false,
        counting: true,
        loading: false,
        selected: 0,
        updatedAt: ''
      })
    ).toBe('1 run');
  });
});

describe('hiddenSelected', () => {
  it('counts the selected runs not loaded here', () => {
    expect(hiddenSelected(['a', 'b', 'c'], ['b', 'x'])).toBe(2);
    expect(hiddenSelected([], ['b'])).toBe(0);
  });
});

describe('emptyText', () => {
  it('says why the list is empty', () => {
    expect(
      emptyText({ total: null, filtered: false, scope: 'all' })
    ).toBeNull();
    expect(emptyText({ total: 3, filtered: true, scope: 'all' })).toBeNull();
    expect(emptyText({ total: 0, filtered: true, scope: 'notebook' })).toBe(
      'No run matches the filter.'
    );
    expect(emptyText({ total: 0, filtered: false, scope: 'notebook' })).toMatch(
      /%%track/
    );
    expect(emptyText({ total: 0, filtered: false, scope: 'all' })).toBe(
      'No run recorded yet.'
    );
  });
});
