import { cpcvSplitter } from './cpcv';
import { purgedKFoldSplitter } from './purged-kfold';
import { walkForwardSplitter } from './walk-forward';

/** The built-in splitters; the spec's `validation.method` names them without the `core/` prefix. */
export const coreSplitters = [walkForwardSplitter, purgedKFoldSplitter, cpcvSplitter];
