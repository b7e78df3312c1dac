import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted at every level, so equal values always give equal text (and hashes).
 * Non-finite numbers become null, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const item = (value as Record<string, unknown>)[key];
      if (item !== undefined) out[key] = sortKeys(item);
    }
    return out;
  }
  return value;
}

/** Incremental sha256 over strings and typed arrays (their raw little-endian bytes). */
export class Sha256 {
  private readonly hash = createHash('sha256');

  update(part: string | ArrayBufferView): this {
    if (typeof part === 'string') this.hash.update(part, 'utf8');
    else this.hash.update(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
    return this;
  }

  hex(): string {
    return this.hash.digest('hex');
  }
}

export function sha256Hex(part: string | ArrayBufferView): string {
  return new Sha256().update(part).hex();
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** zlib's CRC-32 (ISO 3309: PNG chunks, Python's binascii.crc32) of bytes, or of a string's UTF-8 bytes. */
export function crc32(data: Uint8Array | string): number {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
