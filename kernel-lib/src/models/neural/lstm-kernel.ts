/**
 * The LSTM recurrence (Keras gate order i, f, c, o; the tfjs-layers LSTM cell) over Float32Arrays, with
 * the matrix products left to the caller (tfjs' matMul, XNNPACK on the wasm backend).
 *
 * Why: tf.layers.lstm runs each time step as about 15 tiny tfjs ops forward and 40 backward (split,
 * hard-sigmoid as mul/add/clip, transposed matMuls that miss the wasm backend's fast path). Here a step is
 * one matMul (h·U forward, dz·Uᵀ backward) plus a loop over the batch's cells; the input projection x·W,
 * and the weight gradients xᵀ·dz, hᵀ·dz, are each one large matMul over all steps.
 *
 * Layout: every per-step array is time-major, step s at rows [s·B, (s+1)·B).
 */

/** The gate activation: tfjs' default hard sigmoid (clip(0.2x + 0.5, 0, 1)) or the logistic sigmoid. */
export type GateActivation = 'hardSigmoid' | 'sigmoid';

/** rows (count × k, row-major) times a fixed matrix (k × n): count × n, row-major. */
export type MatMul = (rows: Float32Array, count: number) => Float32Array;

/** What the forward pass keeps for the backward pass. */
export type LstmTape = {
  /** Gate pre-activations, steps·B × 4U. */
  readonly z: Float32Array;
  /** Gate activations i, f, g (tanh), o, steps·B × 4U. */
  readonly a: Float32Array;
  /** Cell states c_s, (steps + 1)·B × U (c_0 = 0). */
  readonly c: Float32Array;
  /** tanh(c_s), steps·B × U. */
  readonly tc: Float32Array;
};

export type LstmForward = {
  /** Hidden states h_s, (steps + 1)·B × U, h_0 = 0: step s's output is block s + 1. */
  readonly h: Float32Array;
  readonly tape?: LstmTape;
};

/**
 * tanh to float32 precision (|error| ≤ 3e-8): Eigen's and XNNPACK's rational approximation (odd degree
 * 13 over even degree 6 on [−9, 9]), evaluated in float64. Math.tanh costs several times more, and
 * the forward pass takes two per cell and step.
 */
export function tanh(x: number): number {
  const v = x < -9 ? -9 : x > 9 ? 9 : x;
  const x2 = v * v;
  let p = -2.76076847742355e-16;
  p = p * x2 + 2.00018790482477e-13;
  p = p * x2 - 8.60467152213735e-11;
  p = p * x2 + 5.12229709037114e-8;
  p = p * x2 + 1.48572235717979e-5;
  p = p * x2 + 6.37261928875436e-4;
  p = p * x2 + 4.89352455891786e-3;
  let q = 1.19825839466702e-6;
  q = q * x2 + 1.18534705686654e-4;
  q = q * x2 + 2.268434632439e-3;
  q = q * x2 + 4.89352518554385e-3;
  return (v * p) / q;
}

/** tfjs' hard sigmoid: clip(0.2x + 0.5, 0, 1). */
function hardSigmoid(x: number): number {
  const y = 0.2 * x + 0.5;
  return y < 0 ? 0 : y > 1 ? 1 : y;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** d gate / d x at pre-activation x (hard sigmoid: 0.2 inside [0, 1] inclusive, as tfjs' clip gradient). */
function gateSlope(x: number, y: number, hard: boolean): number {
  if (!hard) return y * (1 - y);
  const pre = Math.fround(Math.fround(0.2 * x) + 0.5);
  return pre >= 0 && pre <= 1 ? 0.2 : 0;
}

/**
 * Run the recurrence. `xw` holds x_s·W + b for every step (steps·B × 4U); `recurrent` multiplies B rows
 * of h (B × U) by U (U × 4U). With `keep`, the activations the backward pass needs are kept. Every
 * intermediate is stored as float32 (as tfjs' ops round), so the outputs match tf.layers.lstm's.
 */
export function lstmForward(xw: Float32Array, batch: number, steps: number, units: number, recurrent: MatMul, activation: GateActivation, keep: boolean): LstmForward {
  const hard = activation === 'hardSigmoid';
  const cells = batch * units;
  const width = 4 * units;
  const block = batch * width;
  const h = new Float32Array((steps + 1) * cells);
  const c = new Float32Array((keep ? steps + 1 : 2) * cells);
  const z = new Float32Array(keep ? steps * block : block);
  const a = new Float32Array(keep ? steps * block : block);
  const tc = new Float32Array(keep ? steps * cells : cells);
  for (let s = 0; s < steps; s++) {
    const zs = keep ? z.subarray(s * block, (s + 1) * block) : z;
    const as = keep ? a.subarray(s * block, (s + 1) * block) : a;
    const ts = keep ? tc.subarray(s * cells, (s + 1) * cells) : tc;
    const cPrev = keep ? s * cells : (s % 2) * cells;
    const cNext = keep ? (s + 1) * cells : ((s + 1) % 2) * cells;
    const hNext = (s + 1) * cells;
    const xs = xw.subarray(s * block, (s + 1) * block);
    if (s === 0) zs.set(xs);
    else {
      const zr = recurrent(h.subarray(s * cells, (s + 1) * cells), batch);
      for (let j = 0; j < block; j++) zs[j] = xs[j] + zr[j];
    }
    for (let j = 0; j < block; j++) {
      const u = j % width;
      as[j] = u >= 2 * units && u < 3 * units ? tanh(zs[j]) : hard ? hardSigmoid(zs[j]) : sigmoid(zs[j]);
    }
    for (let b = 0; b < batch; b++) {
      const row = b * width;
      const base = b * units;
      for (let u = 0; u < units; u++) {
        const cell = base + u;
        c[cNext + cell] = as[row + units + u] * c[cPrev + cell] + as[row + u] * as[row + 2 * units + u];
        ts[cell] = tanh(c[cNext + cell]);
        h[hNext + cell] = as[row + 3 * units + u] * ts[cell];
      }
    }
  }
  return keep ? { h, tape: { z, a, c, tc } } : { h };
}

/**
 * Back-propagate through the recurrence. `dh` holds the loss gradient of each step's output
 * (steps·B × U, time-major; zeros where a step's output is unused); `recurrentT` multiplies B rows of
 * dz (B × 4U) by Uᵀ (4U × U). Returns dz for every step (steps·B × 4U): the gradient of x_s·W + h_{s−1}·U + b.
 */
export function lstmBackward(tape: LstmTape, dh: Float32Array, batch: number, steps: number, units: number, recurrentT: MatMul, activation: GateActivation): Float32Array {
  const hard = activation === 'hardSigmoid';
  const cells = batch * units;
  const width = 4 * units;
  const dz = new Float32Array(steps * batch * width);
  const dc = new Float64Array(cells);
  let carry: Float32Array | undefined; // dh_{s} from step s + 1 (dz_{s+1}·Uᵀ)
  for (let s = steps - 1; s >= 0; s--) {
    for (let b = 0; b < batch; b++) {
      const row = (s * batch + b) * width;
      for (let u = 0; u < units; u++) {
        const cell = b * units + u;
        const dhs = dh[s * cells + cell] + (carry ? carry[cell] : 0);
        const i = tape.a[row + u];
        const f = tape.a[row + units + u];
        const g = tape.a[row + 2 * units + u];
        const o = tape.a[row + 3 * units + u];
        const t = tape.tc[s * cells + cell];
        const dcs = dc[cell] + dhs * o * (1 - t * t);
        dz[row + u] = dcs * g * gateSlope(tape.z[row + u], i, hard);
        dz[row + units + u] = dcs * tape.c[s * cells + cell] * gateSlope(tape.z[row + units + u], f, hard);
        dz[row + 2 * units + u] = dcs * i * (1 - g * g);
        dz[row + 3 * units + u] = dhs * t * gateSlope(tape.z[row + 3 * units + u], o, hard);
        dc[cell] = dcs * f;
      }
    }
    if (s > 0) carry = recurrentT(dz.subarray(s * batch * width, (s + 1) * batch * width), batch);
  }
  return dz;
}
