import { deflateSync } from 'node:zlib';
import { crc32 } from '../../util/hash';

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Encode RGB pixels (width × height × 3 bytes, rows top to bottom) as a PNG (8-bit truecolour, no filter). */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  if (rgb.length !== width * height * 3) throw new Error(`encodePng: ${rgb.length} bytes for ${width}×${height} RGB (expected ${width * height * 3})`);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  // compression, filter and interlace methods stay 0
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0; // filter type None
    Buffer.from(rgb.buffer, rgb.byteOffset + y * width * 3, width * 3).copy(raw, y * (width * 3 + 1) + 1);
  }
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', header), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

export type LineChartOptions = { width?: number; height?: number; /** RGB of the line */ color?: [number, number, number] };

/**
 * A line chart of `values` as a PNG: white background, light grid (quarters), the series scaled to the
 * plot area, a faint baseline at the first value. Deterministic: the same values give the same bytes.
 * Non-finite values are skipped.
 */
export function lineChartPng(values: ArrayLike<number>, options: LineChartOptions = {}): Buffer {
  const width = options.width ?? 640;
  const height = options.height ?? 240;
  const color = options.color ?? [31, 119, 180];
  const pixels = new Uint8Array(width * height * 3).fill(255);
  const set = (x: number, y: number, [r, g, b]: readonly number[]): void => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const i = (y * width + x) * 3;
    pixels[i] = r;
    pixels[i + 1] = g;
    pixels[i + 2] = b;
  };
  const margin = 10;
  const plotW = width - 2 * margin;
  const plotH = height - 2 * margin;
  for (let q = 0; q <= 4; q++) {
    const y = margin + Math.round((q * plotH) / 4);
    const x = margin + Math.round((q * plotW) / 4);
    for (let i = margin; i <= margin + plotW; i++) set(i, y, [225, 225, 225]);
    for (let j = margin; j <= margin + plotH; j++) set(x, j, [225, 225, 225]);
  }
  const points: Array<[number, number]> = [];
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) continue;
    min = Math.min(min, values[i]);
    max = Math.max(max, values[i]);
  }
  if (min === Infinity) return encodePng(width, height, pixels);
  if (max === min) {
    max += 1;
    min -= 1;
  }
  const toX = (i: number): number => margin + Math.round(values.length > 1 ? (i * plotW) / (values.length - 1) : plotW / 2);
  const toY = (v: number): number => margin + Math.round(((max - v) * plotH) / (max - min));
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) points.push([toX(i), toY(values[i])]);
  const baseline = toY(points.length ? values[0] : min);
  if (Number.isFinite(values[0])) for (let x = margin; x <= margin + plotW; x += 4) set(x, baseline, [160, 160, 160]);
  // Bresenham segments, two pixels thick so the line survives phone downscaling
  const plot = (x0: number, y0: number, x1: number, y1: number): void => {
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    for (;;) {
      set(x0, y0, color);
      set(x0, y0 + 1, color);
      if (x0 === x1 && y0 === y1) return;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  };
  if (points.length === 1) plot(points[0][0], points[0][1], points[0][0], points[0][1]);
  for (let i = 1; i < points.length; i++) plot(points[i - 1][0], points[i - 1][1], points[i][0], points[i][1]);
  return encodePng(width, height, pixels);
}
