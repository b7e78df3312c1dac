import type { Pruner } from './pruner';

/** Never prunes (Optuna's NopPruner): every trial runs to its end. */
export class NopPruner implements Pruner {
  prune(): boolean {
    return false;
  }
}
