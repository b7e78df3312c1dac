/** Classification quality of probabilities against true class ids (NaN labels are skipped). */
export type ClassificationMetrics = {
  rows: number;
  accuracy: number;
  balancedAccuracy: number;
  macroF1: number;
  logLoss: number;
  perClass: Array<{ name: string; precision: number; recall: number; f1: number; support: number; predicted: number }>;
  /** confusion[true][predicted] */
  confusion: number[][];
  /** Classes the model never predicted (the seeds' LSTM that only said BUY): a warning sign. */
  neverPredicted: string[];
};

export function classificationMetrics(probabilities: Float32Array, labels: Float64Array, classes: readonly string[]): ClassificationMetrics {
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
  const perClass = classes.map((name, c) => {
    const truePositives = confusion[c][c];
    const support = confusion[c].reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((sum, row) => sum + row[c], 0);
    const precision = predicted ? truePositives / predicted : 0;
    const recall = support ? truePositives / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { name, precision, recall, f1, support, predicted };
  });
  const present = perClass.filter((c) => c.support > 0);
  return {
    rows,
    accuracy: rows ? correct / rows : 0,
    balancedAccuracy: present.length ? present.reduce((sum, c) => sum + c.recall, 0) / present.length : 0,
    macroF1: perClass.reduce((sum, c) => sum + c.f1, 0) / k,
    logLoss: rows ? logLoss / rows : 0,
    perClass,
    confusion,
    neverPredicted: perClass.filter((c) => c.predicted === 0).map((c) => c.name),
  };
}
