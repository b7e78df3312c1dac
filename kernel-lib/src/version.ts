/** The candlelab version (from kernel-lib/package.json), stamped into runs and model versions. */
export const CANDLELAB_VERSION: string = require('../package.json').version;
