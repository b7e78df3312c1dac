import { z } from 'zod';
import { TF_BACKEND_CHOICES, type TfBackendChoice } from './tf';
import { coinEmbeddingParams } from './coin-embedding';

/** Training and input settings every neural sequence model shares. */
const trainingParams = {
  /** Rows per input window: the model sees the previous `seqLen` rows (this one included). */
  seqLen: z.number().int().min(2).max(1024).default(60),
  epochs: z.number().int().min(1).max(10_000).default(30),
  batchSize: z.number().int().min(1).max(8192).default(64),
  /** Adam's initial learning rate. */
  learningRate: z.number().positive().max(1).default(0.001),
  /** Early stopping: stop when the validation loss has not improved for this many epochs (0: never); the best epoch's weights are restored. */
  patience: z.number().int().min(0).default(8),
  /** Reduce on plateau: multiply the learning rate by `lrFactor` after this many epochs without improvement (0: never). */
  lrPatience: z.number().int().min(0).default(3),
  lrFactor: z.number().positive().lt(1).default(0.5),
  minLearningRate: z.number().positive().default(1e-5),
  /** Dropout rate after each block and in the dense head (seeded). */
  dropout: z.number().min(0).lt(1).default(0.2),
  /** Batch normalization after each block and in the dense head. */
  batchNorm: z.boolean().default(true),
  /** Units of the ReLU dense layer before the output (0: none). */
  denseUnits: z.number().int().min(0).max(4096).default(32),
  /** Feature scaler fitted on the training rows and saved with the model. */
  scaler: z.enum(['standard', 'robust', 'minmax']).default('standard'),
  /**
   * Training-window augmentation (F9), off by default: jitter adds N(0, jitter) noise to every scaled
   * value, amplitude multiplies a window by 1 + N(0, amplitude), slice stretches a random sub-window of
   * that fraction of seqLen back to full length (1: off). Seeded; applied to training batches only.
   */
  augment: z
    .object({
      jitter: z.number().min(0).max(10).default(0),
      amplitude: z.number().min(0).max(10).default(0),
      slice: z.number().gt(0).max(1).default(1),
    })
    .strict()
    .default({}),
  /** tfjs backend: 'auto' tries tensorflow-gpu, tensorflow (tfjs-node), wasm, cpu; CANDLELAB_TF_BACKEND applies when this is 'auto'. */
  backend: z.enum(TF_BACKEND_CHOICES as [TfBackendChoice, ...TfBackendChoice[]]).default('auto'),
  /** A learned coin embedding fed from an integer coin index column (see coin-embedding.ts); absent: none. */
  coinEmbedding: coinEmbeddingParams.optional(),
  /** Warm start: the folder of a saved model of the same kind and layers (e.g. the universal model), whose weights and scaler training continues from. */
  initModel: z.string().min(1).optional(),
};

const classificationParams = {
  /** 'balanced' weights each training window's loss by n / (classes × windows of its class). */
  classWeight: z.enum(['balanced', 'none']).default('balanced'),
};

const lstmParams = {
  units: z.number().int().min(1).max(2048).default(64),
  /** Stacked recurrent layers. */
  layers: z.number().int().min(1).max(8).default(1),
  bidirectional: z.boolean().default(false),
  /** Attention pooling over time (score per step, softmax over time, weighted sum) instead of the last state. */
  attention: z.boolean().default(false),
};

const tcnParams = {
  filters: z.number().int().min(1).max(2048).default(32),
  kernelSize: z.number().int().min(2).max(16).default(3),
  /** One residual block (two dilated causal convolutions) per dilation. */
  dilations: z.array(z.number().int().min(1).max(1024)).min(1).max(16).default([1, 2, 4, 8]),
};

/**
 * N-BEATS (Oreshkin et al. 2020): the window (seqLen × features, flattened) runs through stacks of
 * fully connected blocks; each block emits a backcast, subtracted from its input before the next block
 * (doubly residual), and a forecast path of `forecastLength` steps, summed over all blocks, which the
 * output layer reads. No batch norm or dropout by default, as in the paper.
 */
const nbeatsParams = {
  /** 'generic': learned linear bases; 'interpretable': a trend stack (polynomial basis) then a seasonality stack (Fourier basis). */
  stackType: z.enum(['generic', 'interpretable']).default('generic'),
  /** Generic stacks (the interpretable architecture always has two: trend, then seasonality). */
  stacks: z.number().int().min(1).max(30).default(2),
  /** Blocks per stack. */
  blocks: z.number().int().min(1).max(10).default(3),
  /** Width of each block's fully connected ReLU layers. */
  units: z.number().int().min(1).max(2048).default(64),
  /** Fully connected ReLU layers per block. */
  hiddenLayers: z.number().int().min(1).max(8).default(4),
  /** Generic blocks: size of the expansion coefficients θ (backcast and forecast each). */
  thetaUnits: z.number().int().min(1).max(1024).default(8),
  /** Trend blocks: degree of the polynomial basis. */
  trendDegree: z.number().int().min(0).max(6).default(3),
  /** Seasonality blocks: Fourier harmonics (periods of seqLen / k, k = 1 … harmonics). */
  harmonics: z.number().int().min(1).max(32).default(4),
  /** Steps of the forecast path each block emits (the output layer maps it to the prediction). */
  forecastLength: z.number().int().min(1).max(256).default(4),
  dropout: z.number().min(0).lt(1).default(0),
  batchNorm: z.boolean().default(false),
  denseUnits: z.number().int().min(0).max(4096).default(0),
};

/** A probabilistic forecaster in DeepAR's manner: the LSTM's head emits a distribution, trained by likelihood. */
const deeparParams = {
  /** The emitted distribution: Gaussian (μ, σ) or Student's t (μ, scale, ν > 2) for heavy-tailed returns. */
  distribution: z.enum(['gaussian', 'student-t']).default('gaussian'),
  /** Quantile levels predicted after the point forecast, increasing, each in (0, 1). */
  quantiles: z
    .array(z.number().gt(0).lt(1))
    .min(1)
    .max(32)
    .default([0.1, 0.5, 0.9])
    .refine((q) => q.every((v, i) => i === 0 || v > q[i - 1]), { message: 'quantiles must increase, e.g. [0.1, 0.5, 0.9]' }),
  dropout: z.number().min(0).lt(1).default(0),
  batchNorm: z.boolean().default(false),
};

export const lstmClassifierParams = z.object({ ...trainingParams, ...classificationParams, ...lstmParams });
export const lstmRegressorParams = z.object({ ...trainingParams, ...lstmParams });
export const tcnClassifierParams = z.object({ ...trainingParams, ...classificationParams, ...tcnParams });
export const tcnRegressorParams = z.object({ ...trainingParams, ...tcnParams });

export const nbeatsClassifierParams = z.object({ ...trainingParams, ...classificationParams, ...nbeatsParams });
export const nbeatsRegressorParams = z.object({ ...trainingParams, ...nbeatsParams });
export type NbeatsClassifierParams = z.output<typeof nbeatsClassifierParams>;
export type NbeatsRegressorParams = z.output<typeof nbeatsRegressorParams>;

export const deeparParamsSchema = z.object({ ...trainingParams, ...lstmParams, ...deeparParams });
export type DeeparParams = z.output<typeof deeparParamsSchema>;

export type LstmClassifierParams = z.output<typeof lstmClassifierParams>;
export type LstmRegressorParams = z.output<typeof lstmRegressorParams>;
export type TcnClassifierParams = z.output<typeof tcnClassifierParams>;
export type TcnRegressorParams = z.output<typeof tcnRegressorParams>;

/** The network family of a neural model. */
export type Architecture = 'lstm' | 'tcn' | 'nbeats' | 'deepar';
/** Shared training settings (every neural model's params include them). */
export type TrainingParams = z.output<z.ZodObject<typeof trainingParams>>;
export type LstmParams = TrainingParams & z.output<z.ZodObject<typeof lstmParams>> & { classWeight?: 'balanced' | 'none' };
export type TcnParams = TrainingParams & z.output<z.ZodObject<typeof tcnParams>> & { classWeight?: 'balanced' | 'none' };
export type NbeatsParams = TrainingParams & z.output<z.ZodObject<typeof nbeatsParams>> & { classWeight?: 'balanced' | 'none' };
/** The params of any neural sequence model, tagged by architecture. */
export type NeuralSpec = { architecture: 'lstm'; params: LstmParams } | { architecture: 'tcn'; params: TcnParams } | { architecture: 'nbeats'; params: NbeatsParams } | { architecture: 'deepar'; params: LstmParams };
