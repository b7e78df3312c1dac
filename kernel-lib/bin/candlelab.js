#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.hugetlb=1:${GLIBC_TUNABLES} node
// The `candlelab` command. The first line asks glibc to back large allocations (feature columns, backtest
// series, store buffers) with transparent huge pages, as numpy does for its arrays: a first touch then
// faults one 2 MB page instead of 512 small ones, which on virtual machines halves a first run's time.
// `env -S` sets it for node at exec time (no second process); GLIBC_TUNABLES=glibc.malloc.hugetlb=0
// in the environment turns it off (the later setting wins).
// npm links a package's bin only when the target file exists at install
// time, and dist/ is built after `npm install`: this small committed file is the bin target, so the
// link exists on a fresh clone and `npx candlelab` works as soon as the set-up has built dist/.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const cli = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!fs.existsSync(cli)) {
  console.error('candlelab: error: the library is not built (kernel-lib/dist is missing); run `npm run setup` in the project first');
  process.exit(1);
}
require(cli).main();
