import type * as TfModule from '@tensorflow/tfjs';
import { ModelError } from '../../errors';
import { augmentWindow, type AugmentOptions, type SequenceWindows } from '../../preprocessing/sequences';
import { SeededRng } from '../../util/rng';
import type { Progress } from '../../util/progress';
import type { Tf } from './tf';

type Tensor = TfModule.Tensor;
type Scalar = TfModule.Scalar;

/** Probabilities are clipped to [ε, 1 − ε] before the logarithm, as Keras does. */
export const PROBABILITY_EPSILON = 1e-7;

/** One epoch of training: the training objective, the validation loss and the learning rate used. */
export type EpochRecord = {
  /** Epoch number, from 1 (named `round` like the XGBoost history, so the report plots both). */
  round: number;
  /** Mean training objective over the epoch's batches (class-weighted, dropout active). */
  train: number;
  /** Validation loss after the epoch (unweighted log-loss, MSE of the standardized target, or a distribution's NLL). */
  valid: number;
  learningRate: number;
};

export type TrainingResult = {
  history: EpochRecord[];
  /** Epoch (from 1) whose weights the network holds now. */
  bestEpoch: number;
  bestValidLoss: number;
  stoppedEarly: boolean;
  finalLearningRate: number;
};

/** What the training loop needs besides the network. */
export type TrainingOptions = {
  task: 'classification' | 'regression';
  /** Number of classes (classification) or 1. */
  outputs: number;
  train: SequenceWindows;
  valid: SequenceWindows;
  /** Loss weight per training window (class weights), or undefined for none. */
  weights?: Float32Array;
  epochs: number;
  batchSize: number;
  learningRate: number;
  patience: number;
  lrPatience: number;
  lrFactor: number;
  minLearningRate: number;
  seed: number;
  progress?: Progress;
  /** Called after every epoch with the validation loss; may throw to stop training (a tuner's pruning). */
  reportValidation?: (epoch: number, loss: number) => void;
  /** Augmentation of the training batches only (validation and prediction never see it); off when absent. */
  augment?: AugmentOptions;
  /** Regression only: another objective than MSE (a distribution head's negative log-likelihood). */
  objective?: Objective;
};

/** A regression objective: the training loss in tfjs and the same loss in float64 over network outputs (validation). */
export type Objective = {
  loss(tf: Tf, output: Tensor, targets: Tensor): Scalar;
  evaluate(outputs: Float32Array, targets: Float64Array): number;
};

/** Whether augmentation options change anything (slice 1 keeps the whole window). */
export function augments(options: AugmentOptions | undefined): options is AugmentOptions {
  return !!options && ((options.jitter ?? 0) > 0 || (options.amplitude ?? 0) > 0 || (options.slice !== undefined && options.slice < 1));
}

/**
 * Augment the first `n` windows of a training batch in place (batch × length × cols values), each with
 * draws from `rng`: window slicing, amplitude scaling and jitter as `augmentWindow` does them. Only the
 * batch copy changes; the windows' source rows are untouched.
 */
export function augmentBatch(buffer: Float32Array, n: number, length: number, cols: number, options: AugmentOptions, rng: SeededRng): void {
  const size = length * cols;
  const active: AugmentOptions = {
    ...((options.jitter ?? 0) > 0 ? { jitter: options.jitter } : {}),
    ...((options.amplitude ?? 0) > 0 ? { amplitude: options.amplitude } : {}),
    ...(options.slice !== undefined && options.slice < 1 ? { slice: options.slice } : {}),
  };
  for (let b = 0; b < n; b++) {
    const window = buffer.subarray(b * size, (b + 1) * size);
    window.set(augmentWindow(window, length, cols, active, rng));
  }
}

/**
 * Mean cross-entropy of probability rows against class ids, each row's loss multiplied by its weight
 * when weights are given (Keras' sample-weighted mean over the batch). Computed in float64.
 */
export function crossEntropy(probabilities: Float32Array, labels: ArrayLike<number>, classes: number, weights?: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(1 - PROBABILITY_EPSILON, Math.max(PROBABILITY_EPSILON, probabilities[i * classes + labels[i]]));
    sum -= (weights ? weights[i] : 1) * Math.log(p);
  }
  return sum / labels.length;
}

/** Mean squared error of predictions against targets (float64). */
export function meanSquaredError(predictions: Float32Array, targets: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < targets.length; i++) sum += (predictions[i] - targets[i]) ** 2;
  return sum / targets.length;
}

/** The training objective in tfjs: weighted mean cross-entropy of softmax outputs against one-hot rows. */
export function classificationLoss(tf: Tf, probabilities: Tensor, oneHot: Tensor, weights?: Tensor): Scalar {
  return tf.tidy(() => {
    const clipped = tf.clipByValue(probabilities, PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON);
    const perRow = tf.neg(tf.sum(tf.mul(oneHot, tf.log(clipped)), -1));
    return tf.mean(weights ? tf.mul(perRow, weights) : perRow) as Scalar;
  });
}

/** The training objective for regression: mean squared error of the (standardized) target. */
export function regressionLoss(tf: Tf, predictions: Tensor, targets: Tensor): Scalar {
  return tf.tidy(() => tf.mean(tf.square(tf.sub(tf.reshape(predictions, [-1]), targets))) as Scalar);
}

/** Windows per prediction batch: about 4M input values at a time. */
function predictionBatch(windows: SequenceWindows): number {
  return Math.max(1, Math.min(2048, Math.floor(4_000_000 / (windows.length * windows.X.cols))));
}

/**
 * Run the network (inference mode) over every window, a batch at a time: one batch buffer is filled
 * from the window views and reused. Returns windows × outputs values, row-major.
 */
export function predictWindows(tf: Tf, model: TfModule.LayersModel, windows: SequenceWindows, outputs: number): Float32Array {
  const out = new Float32Array(windows.count * outputs);
  const batch = predictionBatch(windows);
  const size = windows.length * windows.X.cols;
  const buffer = new Float32Array(batch * size);
  const indices = new Int32Array(batch);
  for (let start = 0; start < windows.count; start += batch) {
    const n = Math.min(batch, windows.count - start);
    for (let b = 0; b < n; b++) indices[b] = start + b;
    windows.batch(indices.subarray(0, n), buffer);
    const values = tf.tidy(() => {
      const x = tf.tensor3d(buffer.subarray(0, n * size), [n, windows.length, windows.X.cols]);
      return (model.apply(x, { training: false }) as Tensor).dataSync() as Float32Array;
    });
    out.set(values, start * outputs);
  }
  return out;
}

/** The targets of all windows (the target of each window's last row). */
export function windowTargets(windows: SequenceWindows): Float64Array {
  const targets = new Float64Array(windows.count);
  for (let i = 0; i < windows.count; i++) targets[i] = windows.target(i);
  return targets;
}

/** The validation loss of the network as it is now: unweighted log-loss, MSE of the standardized target, or the objective's. */
export function validationLoss(tf: Tf, model: TfModule.LayersModel, windows: SequenceWindows, task: 'classification' | 'regression', outputs: number, objective?: Objective): number {
  const predictions = predictWindows(tf, model, windows, outputs);
  const targets = windowTargets(windows);
  if (objective) return objective.evaluate(predictions, targets);
  return task === 'classification' ? crossEntropy(predictions, targets, outputs) : meanSquaredError(predictions, targets);
}

/**
 * Train with Adam on shuffled mini-batches (order from the seeded RNG), evaluate on the validation
 * windows after each epoch, reduce the learning rate on plateau, stop early after `patience` epochs
 * without improvement and restore the best epoch's weights (batch-norm statistics included).
 */
export function trainNetwork(tf: Tf, model: TfModule.LayersModel, options: TrainingOptions): TrainingResult {
  const { train, valid, task, outputs, batchSize } = options;
  const rng = new SeededRng(options.seed ^ 0x5f3759df);
  // a generator of its own, so turning augmentation on leaves the batch order as it was
  const augmentRng = new SeededRng(options.seed ^ 0x61756721);
  const augment = augments(options.augment) ? options.augment : undefined;
  const optimizer = tf.train.adam(options.learningRate);
  const setLearningRate = (rate: number) => ((optimizer as unknown as { learningRate: number }).learningRate = rate);
  const variables = model.trainableWeights.map((weight) => weight.read() as TfModule.Variable);
  const size = train.length * train.X.cols;
  const buffer = new Float32Array(Math.min(batchSize, train.count) * size);
  const order = new Int32Array(train.count);
  for (let i = 0; i < order.length; i++) order[i] = i;
  const targets = windowTargets(train);
  const labels = new Int32Array(batchSize);
  const values = new Float32Array(batchSize);
  const weights = new Float32Array(batchSize);
  const batches = Math.ceil(train.count / batchSize);

  const history: EpochRecord[] = [];
  let best = { epoch: 0, loss: Infinity };
  let snapshot: Tensor[] | undefined;
  let learningRate = options.learningRate;
  let sinceBest = 0;
  let sinceReduction = 0;
  let stoppedEarly = false;
  try {
    for (let epoch = 1; epoch <= options.epochs; epoch++) {
      // Fisher–Yates with the project's seeded generator: the same seed gives the same batches.
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rng.uniform() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      let lossSum = 0;
      for (let b = 0; b < batches; b++) {
        const indices = order.subarray(b * batchSize, Math.min(train.count, (b + 1) * batchSize));
        const n = indices.length;
        train.batch(indices, buffer);
        if (augment) augmentBatch(buffer, n, train.length, train.X.cols, augment, augmentRng);
        for (let k = 0; k < n; k++) {
          labels[k] = targets[indices[k]];
          values[k] = targets[indices[k]];
          weights[k] = options.weights ? options.weights[indices[k]] : 1;
        }
        const loss = tf.tidy(() => {
          const x = tf.tensor3d(buffer.subarray(0, n * size), [n, train.length, train.X.cols]);
          const y = task === 'classification' ? tf.oneHot(tf.tensor1d(labels.subarray(0, n), 'int32'), outputs) : tf.tensor1d(values.subarray(0, n));
          const w = task === 'classification' && options.weights ? tf.tensor1d(weights.subarray(0, n)) : undefined;
          const cost = optimizer.minimize(
            () => {
              const output = model.apply(x, { training: true }) as Tensor;
              if (task === 'classification') return classificationLoss(tf, output, y, w);
              return options.objective ? options.objective.loss(tf, output, y) : regressionLoss(tf, output, y);
            },
            true,
            variables,
          );
          return cost!.dataSync()[0];
        });
        if (!Number.isFinite(loss)) {
          throw new ModelError(`training diverged: the loss is ${loss} at epoch ${epoch}; lower learningRate or check the features for extreme values`);
        }
        lossSum += loss * n;
        const last = history[history.length - 1];
        options.progress?.tick(1, `epoch ${epoch}/${options.epochs} loss ${loss.toFixed(4)}${last ? ` (epoch ${last.round} valid ${last.valid.toFixed(4)})` : ''}`);
      }
      const validLoss = validationLoss(tf, model, valid, task, outputs, options.objective);
      history.push({ round: epoch, train: lossSum / train.count, valid: validLoss, learningRate });
      options.reportValidation?.(epoch, validLoss);
      if (validLoss < best.loss) {
        best = { epoch, loss: validLoss };
        snapshot?.forEach((tensor) => tensor.dispose());
        snapshot = model.getWeights().map((tensor) => tensor.clone());
        sinceBest = 0;
        sinceReduction = 0;
      } else {
        sinceBest++;
        sinceReduction++;
        if (options.lrPatience > 0 && sinceReduction >= options.lrPatience && learningRate > options.minLearningRate) {
          learningRate = Math.max(options.minLearningRate, learningRate * options.lrFactor);
          setLearningRate(learningRate);
          sinceReduction = 0;
        }
      }
      if (!Number.isFinite(validLoss)) {
        throw new ModelError(`training diverged: the validation loss is ${validLoss} at epoch ${epoch}; lower learningRate`);
      }
      if (options.patience > 0 && sinceBest >= options.patience && epoch < options.epochs) {
        stoppedEarly = true;
        options.progress?.tick((options.epochs - epoch) * batches, `stopped early at epoch ${epoch}`);
        break;
      }
    }
    if (snapshot && best.epoch !== history.length) model.setWeights(snapshot);
    options.progress?.done(`best epoch ${best.epoch} (valid loss ${best.loss.toFixed(5)})`);
    return { history, bestEpoch: best.epoch, bestValidLoss: best.loss, stoppedEarly, finalLearningRate: learningRate };
  } finally {
    snapshot?.forEach((tensor) => tensor.dispose());
    optimizer.dispose();
  }
}
