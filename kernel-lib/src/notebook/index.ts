export { runNotebook, injectParameters, declaredParameters, readNotebook, ensureKernelSpec, type NotebookRunOptions, type NotebookRunResult } from './run-notebook';
