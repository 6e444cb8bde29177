import {
  IRunCard,
  cardMetricLabel,
  describeDelta,
  formatDuration,
  formatNumber,
  formatTags,
  formatStart,
  formatTimestamp,
  fullTimestamp,
  formatValue,
  lowerIsBetter,
  parseTags,
  runCardDeltas,
  runCardDeltasText,
  sparklinePoints,
  statusClass,
  userTags
} from '../model';

describe('formatting', () => {
  it('formats durations', () => {
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(0.4204)).toBe('420 ms');
    expect(formatDuration(1.234)).toBe('1.23 s');
    expect(formatDuration(12.34)).toBe('12.3 s');
    expect(formatDuration(125)).toBe('2m 05s');
    expect(formatDuration(3720)).toBe('1h 02m');
    expect(formatDuration(-1)).toBe('0 ms');
  });

  it('formats timestamps in local time (TZ=UTC in jest)', () => {
    const now = new Date('2026-11-23T18:00:00Z');
    expect(formatTimestamp('2026-11-23T13:05:09.123456+00:00', now)).toBe(
      '13:05:09'
    );
    expect(formatTimestamp('2026-11-20T08:03:00+00:00', now)).toBe(
      '2026-11-20 08:03'
    );
    expect(formatTimestamp(null, now)).toBe('—');
    expect(formatTimestamp('not a date', now)).toBe('not a date');
  });

  it('formats the Start column short enough for a narrow sidebar', () => {
    const now = new Date('2026-11-23T18:00:00Z');
    expect(formatStart('2026-11-23T13:05:09.5+00:00', now)).toBe('13:05:09');
    expect(formatStart('2026-11-20T08:03:00+00:00', now)).toBe('Nov 20 08:03');
    expect(formatStart('2026-01-02T23:59:00+00:00', now)).toBe('Jan 2 23:59');
    expect(formatStart('2025-11-23T13:05:09+00:00', now)).toBe('2025-11-23');
    expect(formatStart(null, now)).toBe('—');
    expect(formatStart('not a date', now)).toBe('not a date');
    expect(fullTimestamp('2025-11-23T13:05:09.9+00:00')).toBe(
      '2025-11-23 13:05:09'
    );
  });

  it('shows NaN for null and trims floats', () => {
    expect(formatValue(null)).toBe('NaN');
    expect(formatValue(0.93)).toBe('0.93');
    expect(formatValue(0.123456789)).toBe('0.1235');
    expect(formatValue(42)).toBe('42');
    expect(formatValue(1234.5678)).toBe('1235');
    expect(formatValue(0.00001234)).toBe('1.234e-5');
    expect(formatValue(true)).toBe('True');
    expect(formatValue('l2')).toBe('l2');
    expect(formatValue([1, 'a'])).toBe('[1,"a"]');
    expect(formatValue({ a: 1 })).toBe('{"a":1}');
    expect(formatNumber(Infinity)).toBe('inf');
    expect(formatNumber(NaN)).toBe('NaN');
  });

  it('maps statuses to badge classes', () => {
    expect(statusClass('failed')).toBe('jp-mltrack-status-failed');
    expect(statusClass('weird')).toBe('jp-mltrack-status-unknown');
  });

  it('formats and parses tags', () => {
    expect(formatTags({ baseline: '', lr: '0.1' })).toEqual([
      'baseline',
      'lr=0.1'
    ]);
    expect(parseTags(' baseline , lr = 0.1,, =x')).toEqual({
      baseline: '',
      lr: '0.1'
    });
    expect(parseTags(formatTags({ a: 'b=c', d: '' }).join(', '))).toEqual({
      a: 'b=c',
      d: ''
    });
  });

  it("leaves the tracker's own tags out of the editable ones", () => {
    const tags = {
      baseline: '',
      'mltrack.sweep': 'lr',
      'mltrack.attempt': 'a1',
      mltrack: 'x',
      'my.mltrack.tag': '1'
    };
    expect(userTags(tags)).toEqual({
      baseline: '',
      mltrack: 'x',
      'my.mltrack.tag': '1'
    });
    expect(userTags(null)).toEqual({});
  });
});

describe('deltas', () => {
  it('knows which metrics are better lower', () => {
    expect(lowerIsBetter('val_loss')).toBe(true);
    expect(lowerIsBetter('RMSE')).toBe(true);
    expect(lowerIsBetter('mean_error')).toBe(true);
    expect(lowerIsBetter('accuracy')).toBe(false);
  });

  it('describes a delta with direction and improvement', () => {
    expect(describeDelta('accuracy', -0.02)).toEqual({
      metric: 'accuracy',
      text: '\u22120.02',
      direction: 'down',
      improved: false
    });
    expect(describeDelta('loss', -0.1)).toMatchObject({
      direction: 'down',
      improved: true
    });
    expect(describeDelta('acc', 0.05)).toMatchObject({
      text: '+0.05',
      direction: 'up',
      improved: true
    });
    expect(describeDelta('acc', 0)).toMatchObject({
      text: '±0',
      improved: null
    });
    expect(describeDelta('acc', null)).toMatchObject({
      text: 'NaN',
      direction: 'unknown',
      improved: null
    });
  });

  const card: IRunCard = {
    run_id: 'x',
    number: 4,
    experiment: 'quickstart',
    name: 'baseline',
    status: 'finished',
    duration: 1.23,
    metrics: { accuracy: 0.93, loss: 0.3 },
    best: { run_id: 'y', number: 2, metrics: { accuracy: 0.95, loss: 0.4 } },
    deltas: { loss: -0.1, accuracy: -0.02 }
  };

  it("takes the experiment's goal over the metric's name", () => {
    // a "loss" someone maximises, an "accuracy" minimised: set_metric_goal
    expect(describeDelta('loss', 0.1, 'max')).toMatchObject({ improved: true });
    expect(describeDelta('accuracy', 0.1, 'min')).toMatchObject({
      improved: false
    });
    const inverted = { ...card, goals: { loss: 'max' as const } };
    const byName = Object.fromEntries(
      runCardDeltas(inverted).map(d => [d.metric, d.improved])
    );
    expect(byName).toEqual({ accuracy: false, loss: false });
  });

  it('orders card deltas like the metrics', () => {
    expect(runCardDeltas(card).map(d => d.metric)).toEqual([
      'accuracy',
      'loss'
    ]);
  });

  it('writes the run-card deltas text', () => {
    expect(runCardDeltasText(card)).toBe(
      'vs #2: accuracy \u22120.02 \u25bc, loss \u22120.1 \u25bc'
    );
    expect(runCardDeltasText({ ...card, best: null, deltas: null })).toBe(
      'first run of "quickstart"'
    );
    expect(runCardDeltasText({ ...card, deltas: {} })).toBe(
      'best earlier run: #2'
    );
  });
});

describe('cardMetricLabel', () => {
  const card = {
    metrics: { acc: 0.9, loss: 0.2, f1: 0.5 },
    reducers: { acc: 'best', f1: 'last' }
  } as unknown as IRunCard;
  it('names the reducer of a metric not shown at its latest value', () => {
    expect(cardMetricLabel(card, 'acc')).toBe('acc (best)');
    expect(cardMetricLabel(card, 'loss')).toBe('loss');
    expect(cardMetricLabel(card, 'f1')).toBe('f1');
    expect(cardMetricLabel({ ...card, reducers: undefined }, 'acc')).toBe(
      'acc'
    );
  });
});

describe('sparklinePoints', () => {
  it('scales a series into the box, higher values higher up', () => {
    expect(sparklinePoints([0, 1, 2], 10, 10, 0)).toBe('0,10 5,5 10,0');
  });

  it('skips nulls and needs two finite values', () => {
    expect(sparklinePoints([1, null, 3], 10, 10, 0)).toBe('0,10 10,0');
    expect(sparklinePoints([1, null], 10, 10, 0)).toBe('');
    expect(sparklinePoints([], 10, 10, 0)).toBe('');
  });

  it('draws a flat series in the middle', () => {
    expect(sparklinePoints([2, 2], 10, 20, 1)).toBe('1,10 9,10');
  });
});
