#!/usr/bin/env node
// Download throughput against the fake exchange (printed figures, not a test). Run: node bench/download.mjs
// Every request to the fake Binance costs a set latency; the ideal is one page per latency
// (page size / latency candles/s). Measured with ccxt's own Binance rate limiter (what a real download
// does) and with the limiter relaxed to 1 ms (the cost of candlelab's pipeline: ccxt parsing, checks,
// store merges).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const cl = require('candlelab');

const LATENCY_MS = 20;
const BARS = 60_000;
const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

console.log(`candlelab ${cl.CANDLELAB_VERSION} download bench · node ${process.version} · ${os.cpus().length} × ${os.cpus()[0].model}`);
console.log(`fake Binance on 127.0.0.1, ${LATENCY_MS} ms per request, ${fmt(BARS)} candles of 1m`);

// The exchange runs in its own process, as a real one would be elsewhere.
const server = spawn(
  process.execPath,
  [
    '-e',
    `const cl = require('candlelab');
     const candles = cl.data.generateSyntheticCandles({ seed: 5, bars: ${BARS}, timeframe: '1m', start: '2024-01-01T00:00:00Z' });
     require('candlelab/testing').startFakeExchange({ latencyMs: ${LATENCY_MS}, datasets: [
       { market: 'spot', symbol: 'BTC/USDT', timeframe: '1m', candles },
       { market: 'futures', symbol: 'BTC/USDT', timeframe: '1m', candles } ] }).then((f) => console.log(f.url));`,
  ],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
);
const url = await new Promise((resolve) => server.stdout.setEncoding('utf8').once('data', (line) => resolve(line.trim())));
const rows = [];
try {
  for (const [market, limiter] of [['spot', 'ccxt'], ['spot', 'relaxed'], ['futures', 'relaxed']]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'candlelab-bench-download-'));
    const started = performance.now();
    const result = await cl.fetchCandles({
      apiUrl: url,
      market,
      symbol: 'BTC/USDT',
      timeframe: '1m',
      from: '2024-01-01',
      dataDir: dir,
      extras: false,
      progress: 'quiet',
      ...(limiter === 'relaxed' ? { rateLimitMs: 1 } : {}),
    });
    const seconds = (performance.now() - started) / 1000;
    const ideal = result.pageSize / (LATENCY_MS / 1000);
    const rate = result.total / seconds;
    rows.push({ market, limiter, pageSize: result.pageSize, pages: result.pages, seconds, rate, ideal });
    fs.rmSync(dir, { recursive: true, force: true });
  }
} finally {
  server.kill();
}
console.log('');
console.log('market   rate limiter      page  pages   seconds   candles/s   ideal (page/latency)   ratio');
for (const r of rows) {
  console.log(
    `${r.market.padEnd(8)} ${(r.limiter === 'ccxt' ? "ccxt's Binance" : 'relaxed (1 ms)').padEnd(16)} ${String(r.pageSize).padStart(5)} ${String(r.pages).padStart(6)} ${r.seconds.toFixed(2).padStart(9)} ${fmt(r.rate).padStart(11)} ${fmt(r.ideal).padStart(22)} ${(r.rate / r.ideal).toFixed(2).padStart(7)}`,
  );
}
console.log('');
console.log("ccxt's limiter spaces Binance klines by their request weight (2 for a 1000-candle page × 50 ms): that, not the");
console.log('latency, bounds a real download; ccxt declares 500-candle pages for USDⓈ-M futures klines.');
