// Classification metrics for emotion recognition: accuracy (WA), unweighted average recall (UAR),
// macro-F1, per-class precision/recall/F1 and the confusion matrix; mean and std across folds.
// Conventions follow scikit-learn: UAR averages recall over the classes present in the truth
// (balanced_accuracy_score); macro-F1 averages over the classes present in the truth or the
// predictions, with 0 where precision or recall has no denominator (zero_division=0).

export interface ClassMetrics {
  label: string;
  /** True rows of this class (confusion row sum). */
  support: number;
  /** Rows predicted as this class (confusion column sum). */
  predicted: number;
  precision: number;
  recall: number;
  f1: number;
}

/** Accuracy (WA), unweighted average recall (UAR), macro-F1, per-class figures and the confusion matrix. */
export interface Metrics {
  labels: string[];
  /** confusion[true][predicted], counts. */
  confusion: number[][];
  total: number;
  accuracy: number;
  uar: number;
  macroF1: number;
  perClass: ClassMetrics[];
}

export function confusionMatrix(truth: readonly number[], predicted: readonly number[], classes: number): number[][] {
  if (truth.length !== predicted.length) throw new Error(`${truth.length} labels but ${predicted.length} predictions`);
  const matrix = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  truth.forEach((t, i) => {
    const p = predicted[i];
    if (!(t >= 0 && t < classes && p >= 0 && p < classes) || !Number.isInteger(t) || !Number.isInteger(p)) {
      throw new Error(`row ${i}: class indices must be integers in 0..${classes - 1}, got ${t} and ${p}`);
    }
    matrix[t][p]++;
  });
  return matrix;
}

export function metricsFromConfusion(confusion: number[][], labels: readonly string[]): Metrics {
  const n = labels.length;
  if (confusion.length !== n || confusion.some((row) => row.length !== n)) throw new Error(`confusion must be ${n}x${n}`);
  const support = confusion.map((row) => row.reduce((a, b) => a + b, 0));
  const predicted = labels.map((_, j) => confusion.reduce((sum, row) => sum + row[j], 0));
  const total = support.reduce((a, b) => a + b, 0);
  const correct = labels.reduce((sum, _, i) => sum + confusion[i][i], 0);
  const perClass = labels.map((label, i) => {
    const precision = predicted[i] > 0 ? confusion[i][i] / predicted[i] : 0;
    const recall = support[i] > 0 ? confusion[i][i] / support[i] : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, support: support[i], predicted: predicted[i], precision, recall, f1 };
  });
  const inTruth = perClass.filter((c) => c.support > 0);
  const seen = perClass.filter((c) => c.support > 0 || c.predicted > 0);
  const mean = (values: number[]) => (values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : 0);
  return {
    labels: [...labels],
    confusion: confusion.map((row) => [...row]),
    total,
    accuracy: total > 0 ? correct / total : 0,
    uar: mean(inTruth.map((c) => c.recall)),
    macroF1: mean(seen.map((c) => c.f1)),
    perClass,
  };
}

export function computeMetrics(truth: readonly number[], predicted: readonly number[], labels: readonly string[]): Metrics {
  return metricsFromConfusion(confusionMatrix(truth, predicted, labels.length), labels);
}

/** Mean and standard deviation of one metric over folds. */
export interface Summary {
  mean: number;
  /** Sample standard deviation (n - 1); 0 for a single value. */
  std: number;
  values: number[];
}

export function summarise(values: readonly number[]): Summary {
  const n = values.length;
  if (n === 0) throw new Error('no values to summarise');
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, std: Math.sqrt(variance), values: [...values] };
}

/** Mean +- std of WA, UAR and macro-F1 across folds, and the pooled confusion matrix. */
export function summariseFolds(folds: readonly Metrics[]): { accuracy: Summary; uar: Summary; macroF1: Summary; pooled: Metrics } {
  if (folds.length === 0) throw new Error('no folds');
  const labels = folds[0].labels;
  const pooled = labels.map((_, i) => labels.map((__, j) => folds.reduce((sum, f) => sum + f.confusion[i][j], 0)));
  return {
    accuracy: summarise(folds.map((f) => f.accuracy)),
    uar: summarise(folds.map((f) => f.uar)),
    macroF1: summarise(folds.map((f) => f.macroF1)),
    pooled: metricsFromConfusion(pooled, labels),
  };
}
