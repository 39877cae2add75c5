// Metrics against hand-computed confusion matrices.
import { fitLogisticRegression, predictLogisticRegression } from '../src/eval/baseline';
import { computeMetrics, confusionMatrix, metricsFromConfusion, summarise, summariseFolds } from '../src/train/metrics';

describe('a 3-class example worked by hand', () => {
  // truth:     A A A A B B C C C C
  // predicted: A A B C B B C C C A
  const truth = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2];
  const predicted = [0, 0, 1, 2, 1, 1, 2, 2, 2, 0];
  const m = computeMetrics(truth, predicted, ['A', 'B', 'C']);

  test('confusion[true][predicted]', () => {
    expect(m.confusion).toEqual([[2, 1, 1], [0, 2, 0], [1, 0, 3]]);
  });

  test('WA = 7/10; UAR = (2/4 + 2/2 + 3/4) / 3; macro-F1 from per-class P and R', () => {
    expect(m.accuracy).toBeCloseTo(0.7, 12);
    expect(m.uar).toBeCloseTo((0.5 + 1 + 0.75) / 3, 12);
    // A: P = 2/3, R = 1/2 -> F1 = 4/7; B: P = 2/3, R = 1 -> 4/5; C: P = 3/4, R = 3/4 -> 3/4.
    expect(m.perClass.map((c) => [c.precision, c.recall])).toEqual([[2 / 3, 0.5], [2 / 3, 1], [0.75, 0.75]]);
    expect(m.perClass[0].f1).toBeCloseTo(4 / 7, 12);
    expect(m.macroF1).toBeCloseTo((4 / 7 + 4 / 5 + 3 / 4) / 3, 12);
  });
});

describe('empty classes', () => {
  // Four labels: D never occurs and is never predicted; C is predicted but never true.
  const confusion = [
    [3, 0, 1, 0],
    [1, 1, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
  ];
  const m = metricsFromConfusion(confusion, ['A', 'B', 'C', 'D']);

  test('UAR averages recall over classes present in the truth only (A, B)', () => {
    expect(m.uar).toBeCloseTo((3 / 4 + 1 / 2) / 2, 12);
  });

  test('macro-F1 counts a class predicted but never true as F1 0, and skips a class never seen', () => {
    // A: P = 3/4, R = 3/4 -> 0.75; B: P = 1, R = 1/2 -> 2/3; C: P = 0 -> 0; D: excluded.
    expect(m.perClass[2]).toMatchObject({ support: 0, predicted: 1, precision: 0, recall: 0, f1: 0 });
    expect(m.macroF1).toBeCloseTo((0.75 + 2 / 3 + 0) / 3, 12);
    expect(m.accuracy).toBeCloseTo(4 / 6, 12);
  });
});

test('folds: mean and sample std, pooled confusion', () => {
  const a = computeMetrics([0, 1], [0, 1], ['x', 'y']);
  const b = computeMetrics([0, 1], [1, 1], ['x', 'y']);
  const s = summariseFolds([a, b]);
  expect(s.accuracy.mean).toBeCloseTo(0.75, 12);
  expect(s.accuracy.std).toBeCloseTo(Math.SQRT1_2 / 2, 12);
  expect(s.pooled.confusion).toEqual([[1, 1], [0, 2]]);
  expect(summarise([5]).std).toBe(0);
});

test('bad input is refused', () => {
  expect(() => confusionMatrix([0, 1], [0], 2)).toThrow(/2 labels but 1 predictions/);
  expect(() => confusionMatrix([0, 3], [0, 1], 2)).toThrow(/0..1/);
  expect(() => metricsFromConfusion([[1]], ['a', 'b'])).toThrow(/2x2/);
});

describe('the logistic-regression baseline', () => {
  // Three Gaussian blobs in 6 dimensions, 60 rows each for training and 30 for test.
  function blobs(perClass: number, seed: number): { x: Float64Array; y: number[] } {
    let s = seed >>> 0;
    const uniform = () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return (s + 0.5) / 2 ** 32;
    };
    const gauss = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    const x: number[] = [];
    const y: number[] = [];
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < perClass; i++) {
        for (let f = 0; f < 6; f++) x.push(100 + 10 * (f === c ? 3 : 0) + 10 * gauss());
        y.push(c);
      }
    }
    return { x: Float64Array.from(x), y };
  }

  test('separates separable classes on held-out rows, the same way every time', () => {
    const train = blobs(60, 1);
    const test = blobs(30, 2);
    const model = fitLogisticRegression(train.x, train.y, 3);
    const predicted = predictLogisticRegression(model, test.x);
    const accuracy = predicted.filter((p, i) => p === test.y[i]).length / predicted.length;
    // Class means 3 standard deviations apart along one axis each: the Bayes accuracy is about 0.93.
    expect(accuracy).toBeGreaterThan(0.85);
    expect(predictLogisticRegression(fitLogisticRegression(train.x, train.y, 3), test.x)).toEqual(predicted);
    // Labels that carry no information leave it near chance.
    const shuffled = train.y.map((_, i) => (i * 7) % 3);
    const chance = predictLogisticRegression(fitLogisticRegression(train.x, shuffled, 3), test.x).filter((p, i) => p === test.y[i]).length / predicted.length;
    expect(chance).toBeLessThan(0.6);
  });
});
