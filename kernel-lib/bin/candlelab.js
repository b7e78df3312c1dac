#!/usr/bin/env node
// The `candlelab` command. npm links a package's bin only when the target file exists at install
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
