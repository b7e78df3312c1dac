/**
 * The tslab kernel as `candlelab notebook` starts it: tslab itself, with a leaner TypeScript program.
 *
 * tslab type-checks every cell against a program of everything the cells can see. `import * as cl
 * from 'candlelab'` pulls in the declarations of every package candlelab's API mentions — ccxt
 * (4.5 MB of .d.ts), TensorFlow.js, fastify, BullMQ … — about 1500 files, parsed at the import and
 * re-walked at each cell. Here those packages do not resolve for the type checker (their types are
 * `any`, and tslab reports no errors inside .d.ts files) and only @types/node is loaded implicitly
 * (not every @types package in node_modules): about 480 files. What runs is unchanged: Node.js
 * requires the real packages; only the compile-time view is narrower. Jupyter users keep plain tslab.
 */
import * as path from 'node:path';

/** Packages the cells' type checker does not load (none of them is part of the notebook API). */
export const UNCHECKED_PACKAGES = /^(ccxt|@tensorflow\/|@webgpu\/|fastify|@fastify\/|bullmq|ioredis|nodemailer|@noble\/|onnxruntime-|smtp-server|node-fetch)(\/|$)/;

type TypeScript = typeof import('typescript');

/** Replace tslab's TypeScript module (in the require cache) by a copy whose watch host narrows the program. */
export function narrowTslabTypeScript(tslabMain: string): void {
  const tsPath = require.resolve('@tslab/typescript-for-tslab', { paths: [path.dirname(tslabMain)] });
  const ts = require(tsPath) as TypeScript;
  const patched: TypeScript = {
    ...ts,
    createWatchCompilerHost: ((rootFiles: string[], options: import('typescript').CompilerOptions, ...rest: unknown[]) => {
      const host = (ts.createWatchCompilerHost as (...args: unknown[]) => import('typescript').WatchCompilerHostOfFilesAndCompilerOptions<import('typescript').BuilderProgram>)(
        rootFiles,
        { ...options, types: ['node'] },
        ...rest,
      );
      const cache = ts.createModuleResolutionCache(host.getCurrentDirectory(), (name) => name, options);
      host.resolveModuleNameLiterals = (literals, containingFile, redirected, compilerOptions) =>
        literals.map((literal) =>
          UNCHECKED_PACKAGES.test(literal.text) ? { resolvedModule: undefined } : ts.resolveModuleName(literal.text, containingFile, compilerOptions, host, cache, redirected),
        );
      return host;
    }) as TypeScript['createWatchCompilerHost'],
  };
  require.cache[tsPath]!.exports = patched;
}

if (require.main === module) {
  const tslabMain = require.resolve('tslab/dist/main', { paths: [process.cwd(), __dirname] });
  narrowTslabTypeScript(tslabMain);
  const configIndex = process.argv.indexOf('--config-path');
  const configPath = configIndex > 0 ? process.argv[configIndex + 1] : '';
  // enableFindLocal off: this is the tslab to run (a local one would skip the narrowing).
  (require(tslabMain) as { startKernel: (options: { configPath: string; enableFindLocal: boolean }) => void }).startKernel({ configPath, enableFindLocal: false });
}
