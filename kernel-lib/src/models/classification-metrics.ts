/** Per-class quality: one-vs-rest counts, precision/recall/F1 and ROC-AUC. */
export type ClassMetrics = {
  name: string;
  precision: number;
  recall: number;
  f1: number;
  /** Rows whose true class is this one. */
  support: number;
  /** Rows the model predicted as this class (argmax). */
  predicted: number;
  /** Signals of this class that were right / wrong. */
  truePositives: number;
  falsePositives: number;
  /** One-vs-rest ROC-AUC of this class's probability; null when the segment has no positive or no negative row. */
  rocAuc: number | null;
};

/** Classification quality of probabilities against true class ids (NaN labels are skipped). */
export type ClassificationMetrics = {
  rows: number;
  accuracy: number;
  /** Mean recall over the classes present in the labels. */
  balancedAccuracy: number;
  /** Unweighted means over every class (a class never predicted counts with precision 0). */
  macroPrecision: number;
  macroRecall: number;
  macroF1: number;
  /** Mean negative log-likelihood of the true class, probabilities clipped to [1e-15, 1 − 1e-15]. */
  logLoss: number;
  /** Mean one-vs-rest ROC-AUC over the classes where it is defined; null when none is. */
  rocAucMacro: number | null;
  perClass: ClassMetrics[];
  /** confusion[true][predicted] */
  confusion: number[][];
  /** Classes the model never predicted (the seeds' LSTM that only said BUY): a warning sign. */
  neverPredicted: string[];
  /** Warnings as stable strings: 'never-predicted:<CLASS>'. */
  flags: string[];
};

/**
 * Accuracy, balanced accuracy, precision/recall/F1 per class and macro, confusion matrix, log-loss and
 * one-vs-rest ROC-AUC of row-major probabilities (rows × classes) against class ids. The predicted class
 * is the argmax (the first class on ties).
 */
export function classificationMetrics(probabilities: Float32Array | Float64Array, labels: Float64Array, classes: readonly string[]): ClassificationMetrics {
  const k = classes.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let rows = 0;
  let correct = 0;
  let logLoss = 0;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (!Number.isFinite(label)) continue;
    let predicted = 0;
    for (let c = 1; c < k; c++) if (probabilities[i * k + c] > probabilities[i * k + predicted]) predicted = c;
    confusion[label][predicted]++;
    if (predicted === label) correct++;
    // Clip as scikit-learn does, so one confident mistake is large but finite.
    logLoss -= Math.log(Math.min(1 - 1e-15, Math.max(1e-15, probabilities[i * k + label])));
    rows++;
  }
  const perClass: ClassMetrics[] = classes.map((name, c) => {
    const truePositives = confusion[c][c];
    const support = confusion[c].reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((sum, row) => sum + row[c], 0);
    const precision = predicted ? truePositives / predicted : 0;
    const recall = support ? truePositives / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    const rocAuc = oneVsRestAuc(probabilities, labels, k, c);
    return { name, precision, recall, f1, support, predicted, truePositives, falsePositives: predicted - truePositives, rocAuc };
  });
  const present = perClass.filter((c) => c.support > 0);
  const mean = (values: number[]): number => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);
  const aucs = perClass.map((c) => c.rocAuc).filter((x): x is number => x !== null);
  const neverPredicted = rows ? perClass.filter((c) => c.predicted === 0).map((c) => c.name) : [];
  return {
    rows,
    accuracy: rows ? correct / rows : 0,
    balancedAccuracy: mean(present.map((c) => c.recall)),
    macroPrecision: mean(perClass.map((c) => c.precision)),
    macroRecall: mean(perClass.map((c) => c.recall)),
    macroF1: mean(perClass.map((c) => c.f1)),
    logLoss: rows ? logLoss / rows : 0,
    rocAucMacro: aucs.length ? mean(aucs) : null,
    perClass,
    confusion,
    neverPredicted,
    flags: neverPredicted.map((name) => `never-predicted:${name}`),
  };
}

/**
 * Exact ROC-AUC of scores for "label = positive" against the rest, by ranks: the Mann–Whitney U
 * statistic with tied scores sharing their average rank (a tie counts one half). Null when the rows
 * hold no positive or no negative.
 */
export function rocAuc(scores: ArrayLike<number>, positive: ArrayLike<boolean>): number | null {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i);
  const score = (i: number): number => (Number.isNaN(scores[i]) ? -Infinity : scores[i]);
  order.sort((a, b) => score(a) - score(b) || a - b);
  let positives = 0;
  let rankSum = 0;
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && score(order[end]) === score(order[start])) end++;
    const averageRank = (start + 1 + end) / 2; // ranks start+1 … end share their mean
    for (let j = start; j < end; j++) {
      if (positive[order[j]]) {
        positives++;
        rankSum += averageRank;
      }
    }
    start = end;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** One-vs-rest ROC-AUC of class `c` over the rows with a finite label. */
function oneVsRestAuc(probabilities: ArrayLike<number>, labels: Float64Array, k: number, c: number): number | null {
  const scores: number[] = [];
  const positive: boolean[] = [];
  for (let i = 0; i < labels.length; i++) {
    if (!Number.isFinite(labels[i])) continue;
    scores.push(probabilities[i * k + c]);
    positive.push(labels[i] === c);
  }
  return rocAuc(scores, positive);
}
