import * as fs from 'node:fs';

/** What replaces a secret in any text the trading module prints, throws or writes. */
export const REDACTED = '[redacted]';

/**
 * Replaces every registered secret (API key, secret, and their URL-encoded forms) with `[redacted]`.
 * Every log line, error message and file the trading module writes goes through one.
 */
export class Redactor {
  private readonly secrets = new Set<string>();

  /** Register secrets (empty and very short strings are ignored: they would redact ordinary text). */
  add(...secrets: Array<string | undefined>): this {
    for (const s of secrets) {
      if (!s || s.length < 6) continue;
      this.secrets.add(s);
      this.secrets.add(encodeURIComponent(s));
    }
    return this;
  }

  /** `text` with every secret replaced. */
  redact(text: string): string {
    let out = text;
    // Longest first, so a secret containing another is replaced whole.
    for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join(REDACTED);
    return out;
  }

  /** The error with its message and stack redacted (in place, so its class and code are kept). */
  redactError<E>(error: E): E {
    if (error instanceof Error) {
      error.message = this.redact(error.message);
      if (error.stack) error.stack = this.redact(error.stack);
    }
    return error;
  }

  /** Write a file's text redacted. */
  writeFileSync(file: string, text: string, options?: fs.WriteFileOptions): void {
    fs.writeFileSync(file, this.redact(text), options);
  }

  /** Append to a file, redacted. */
  appendFileSync(file: string, text: string): void {
    fs.appendFileSync(file, this.redact(text));
  }

  /**
   * Redact everything written to `stream` (process.stdout, process.stderr) until the returned function
   * is called.
   */
  wrapStream(stream: NodeJS.WriteStream): () => void {
    const original = stream.write;
    const redactor = this;
    stream.write = function (chunk: unknown, ...rest: unknown[]): boolean {
      const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) || chunk instanceof Uint8Array ? Buffer.from(chunk).toString('utf8') : String(chunk);
      return (original as (...args: unknown[]) => boolean).call(stream, redactor.redact(text), ...rest);
    } as typeof stream.write;
    return () => {
      stream.write = original;
    };
  }

  /** Redact process.stdout and process.stderr; returns the undo function. */
  wrapProcessOutput(): () => void {
    const undoOut = this.wrapStream(process.stdout);
    const undoErr = this.wrapStream(process.stderr);
    return () => {
      undoErr();
      undoOut();
    };
  }
}
