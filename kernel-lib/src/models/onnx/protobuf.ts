/**
 * A minimal protocol-buffers writer: enough to emit ONNX models (varints, 64-bit ints, packed floats and
 * ints, strings, nested messages). Field numbers come from onnx/onnx.proto3.
 */
export class ProtoWriter {
  private chunks: number[] = [];

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.chunks.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.chunks.push(Number(v));
  }

  private tag(field: number, wireType: 0 | 1 | 2 | 5): void {
    this.varint((field << 3) | wireType);
  }

  private bytes(data: Uint8Array): void {
    for (const byte of data) this.chunks.push(byte);
  }

  /** int32/int64/enum/bool field (varint). */
  int(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.varint(value);
    return this;
  }

  /** float field (32-bit). */
  float(field: number, value: number): this {
    this.tag(field, 5);
    const buffer = new Uint8Array(4);
    new DataView(buffer.buffer).setFloat32(0, value, true);
    this.bytes(buffer);
    return this;
  }

  string(field: number, value: string): this {
    return this.rawBytes(field, new TextEncoder().encode(value));
  }

  rawBytes(field: number, data: Uint8Array): this {
    this.tag(field, 2);
    this.varint(data.length);
    this.bytes(data);
    return this;
  }

  message(field: number, build: (writer: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.rawBytes(field, inner.finish());
  }

  /** repeated float, packed. */
  packedFloats(field: number, values: ArrayLike<number>): this {
    const buffer = new Uint8Array(values.length * 4);
    const view = new DataView(buffer.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
    return this.rawBytes(field, buffer);
  }

  /** repeated int64, packed. */
  packedInts(field: number, values: ArrayLike<number>): this {
    const inner = new ProtoWriter();
    for (let i = 0; i < values.length; i++) inner.varint(values[i]);
    return this.rawBytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}
