import { Debouncer, describeQueryError, queryErrorOf } from '../runlist/filter';

describe('queryErrorOf', () => {
  const queryError = { message: 'expected a value', column: 11, position: 10 };

  it("reads the query error of the API's error object", () => {
    const reason = Object.assign(new Error('bad'), {
      error: {
        status: 400,
        message: 'bad',
        reason: 'query',
        query_error: queryError
      }
    });
    expect(queryErrorOf(reason)).toEqual(queryError);
  });

  it('reads one sent at the top level too', () => {
    expect(queryErrorOf({ status: 400, query_error: queryError })).toEqual(
      queryError
    );
  });

  it('derives the column from the position when missing', () => {
    expect(
      queryErrorOf({ error: { query_error: { message: 'm', position: 4 } } })
    ).toEqual({ message: 'm', column: 5, position: 4 });
  });

  it('is null for any other failure', () => {
    expect(queryErrorOf(new Error('Failed to fetch'))).toBeNull();
    expect(queryErrorOf({ error: { status: 500, message: 'x' } })).toBeNull();
    expect(queryErrorOf({ error: { query_error: { column: 3 } } })).toBeNull();
    expect(queryErrorOf(null)).toBeNull();
    expect(queryErrorOf('400')).toBeNull();
  });
});

describe('describeQueryError', () => {
  it('puts a caret under the column', () => {
    const view = describeQueryError('params.lr <', {
      message: 'expected a value',
      column: 12,
      position: 11
    });
    expect(view.message).toBe('expected a value at column 12');
    expect(view.excerpt).toBe('params.lr <');
    expect(view.caret).toBe(' '.repeat(11) + '^');
  });

  it('keeps a message that names its column', () => {
    expect(
      describeQueryError('a', {
        message: 'bad at column 1',
        column: 1,
        position: 0
      }).message
    ).toBe('bad at column 1');
  });

  it('cuts a long query around the error, the caret still under it', () => {
    const text = `${'x'.repeat(60)} and ) ${'y'.repeat(60)}`;
    const position = text.indexOf(')');
    const view = describeQueryError(
      text,
      { message: 'unexpected ")"', column: position + 1, position },
      30
    );
    expect(view.excerpt.startsWith('\u2026')).toBe(true);
    expect(view.excerpt.endsWith('\u2026')).toBe(true);
    expect(view.excerpt.length).toBe(32);
    expect(view.excerpt[view.caret.length - 1]).toBe(')');
  });

  it('shows newlines as spaces so the caret lines up', () => {
    const view = describeQueryError('a = 1\nand', {
      message: 'expected a condition',
      column: 10,
      position: 9
    });
    expect(view.excerpt).toBe('a = 1 and');
    expect(view.caret).toBe(' '.repeat(9) + '^');
  });
});

describe('Debouncer', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('applies the last value once typing pauses', () => {
    const applied: string[] = [];
    const debouncer = new Debouncer<string>(v => applied.push(v), 300);
    debouncer.schedule('p');
    jest.advanceTimersByTime(200);
    debouncer.schedule('pa');
    jest.advanceTimersByTime(200);
    debouncer.schedule('par');
    expect(applied).toEqual([]);
    expect(debouncer.pending).toBe(true);
    jest.advanceTimersByTime(300);
    expect(applied).toEqual(['par']);
    expect(debouncer.pending).toBe(false);
  });

  it('applies at once on flush (Enter), and only once', () => {
    const applied: string[] = [];
    const debouncer = new Debouncer<string>(v => applied.push(v), 300);
    debouncer.schedule('x');
    debouncer.flush();
    jest.advanceTimersByTime(1000);
    debouncer.flush();
    expect(applied).toEqual(['x']);
  });

  it('applies nothing after dispose', () => {
    const applied: string[] = [];
    const debouncer = new Debouncer<string>(v => applied.push(v), 300);
    debouncer.schedule('x');
    debouncer.dispose();
    jest.advanceTimersByTime(1000);
    expect(applied).toEqual([]);
  });
});
