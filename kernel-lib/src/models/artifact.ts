import * as path from 'node:path';
import { writeFileAtomic } from '../util/atomic';
import { sha256Hex } from '../util/hash';
import type { Artifact } from './model';

/** Write one file into `dir` atomically and describe it (path relative to `dir`, kind, sha256, size). */
export function writeArtifact(dir: string, name: string, kind: string, content: string | Uint8Array): Artifact {
  writeFileAtomic(path.join(dir, name), content);
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  return { path: name, kind, sha256: sha256Hex(bytes), bytes: bytes.length };
}
