import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A temp name beside `target`, unique per call (so concurrent writers never share one). */
function tempNameBeside(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Write a file atomically: the bytes go to a temp file in the same folder, are flushed, then renamed
 * over the target. Readers see the old file or the new one, never a half-written one.
 */
export function writeFileAtomic(target: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const temp = tempNameBeside(target);
  try {
    const fd = fs.openSync(temp, 'w');
    try {
      if (Array.isArray(data)) {
        // parts written in order, never joined into one copy
        for (const part of data as readonly Uint8Array[]) {
          for (let done = 0; done < part.byteLength; ) done += fs.writeSync(fd, part, done, part.byteLength - done);
        }
      } else fs.writeFileSync(fd, data as string | Uint8Array);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, target);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  }
}

/**
 * Build a folder atomically: `fill` writes into a temp folder beside `target`, which is then renamed
 * to `target`. If `fill` throws, or `target` already exists, the temp folder is removed and nothing
 * appears at `target`.
 */
export async function writeDirAtomic(target: string, fill: (tempDir: string) => Promise<void> | void): Promise<void> {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const temp = tempNameBeside(target);
  fs.mkdirSync(temp);
  try {
    await fill(temp);
    // rename(2) of a folder onto an existing non-empty folder fails: two writers can never merge.
    if (fs.existsSync(target)) throw Object.assign(new Error(`${target} already exists`), { code: 'EEXIST' });
    fs.renameSync(temp, target);
  } catch (error) {
    fs.rmSync(temp, { recursive: true, force: true });
    throw error;
  }
}
