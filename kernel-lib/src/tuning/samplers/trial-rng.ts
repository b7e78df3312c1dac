import { SeededRng } from '../../util/rng';

/**
 * The random state of one draw: a SeededRng seeded by a hash of (seed, trial number, stream). Each
 * trial (and each parameter of it) gets its own stream, so a trial's random draws depend only on the
 * seed and its number: the same with 1 or 4 concurrent trials, or several processes sharing a journal.
 * (Optuna keeps one RandomState per sampler instead, whose draws depend on the order of calls.)
 */
export function trialRng(seed: number, trialNumber: number, stream: string): SeededRng {
  // FNV-1a over the text, then a murmur3 finaliser to spread the bits.
  let hash = 0x811c9dc5;
  const text = `${seed}|${trialNumber}|${stream}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b) >>> 0;
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35) >>> 0;
  hash ^= hash >>> 16;
  return new SeededRng(hash >>> 0);
}
