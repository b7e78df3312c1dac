import * as ort from 'onnxruntime-node';
import { ModelError } from '../../errors';
import type { Matrix } from '../model';

/**
 * An ONNX Runtime (onnxruntime-node, CPU) inference session over a model's bytes, taking row-major
 * float32 features. Threads are fixed (default 1) so results never depend on the machine's core count.
 */
export class OnnxSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly inputName: string,
    readonly outputNames: readonly string[],
    readonly numFeatures: number,
  ) {}

  static async create(model: Uint8Array, numFeatures: number, threads = 1): Promise<OnnxSession> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(model, {
        executionProviders: ['cpu'],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
      });
    } catch (error) {
      throw new ModelError(`ONNX Runtime rejected the model: ${(error as Error).message.split('\n')[0]}`);
    }
    return new OnnxSession(session, session.inputNames[0], session.outputNames, numFeatures);
  }

  /** Run the model on a batch; returns the named output's values (float32). */
  async run(X: Matrix, output: string): Promise<Float32Array> {
    if (X.cols !== this.numFeatures) {
      throw new ModelError(`the model expects ${this.numFeatures} features per row, got ${X.cols}; use the feature list it was trained with`);
    }
    if (X.rows === 0) return new Float32Array(0);
    const input = new ort.Tensor('float32', X.values, [X.rows, X.cols]);
    const results = await this.session.run({ [this.inputName]: input }, [output]);
    const data = results[output].data;
    if (!(data instanceof Float32Array)) throw new ModelError(`ONNX output '${output}' is ${results[output].type}, expected float32`);
    return data;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
