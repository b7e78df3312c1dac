import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { Frame, type Candles, timeframeMs } from '../frame/frame';
import { BinanceError, DEFAULT_FILTERS, FakeSpotBook, type FakeAccountOptions, type FakeBalance, type FakeOrder, type FakeSymbolFilters, type FakeTrade } from './fake-spot-trading';

export type { FakeAccountOptions, FakeBalance, FakeOrder, FakeSymbolFilters, FakeTrade } from './fake-spot-trading';

/**
 * A stand-in for Binance on 127.0.0.1: an HTTP + websocket server speaking Binance's real wire formats
 * (spot /api/v3 and USDⓈ-M futures /fapi/v1, /futures/data; kline and trade streams with the
 * SUBSCRIBE protocol) over datasets you give it, with injectable faults and its own clock. Point ccxt at
 * it with `apiUrl` (see `ccxtExchange`); it is the exchange, not a mock of candlelab.
 *
 * Spot trading: signed /api/v3 endpoints (account, order, order/test, openOrders, myTrades) for the
 * `accounts` given, with Binance's checks and error codes. MARKET orders fill at the current price (the
 * close of the latest closed candle, or `setPrice`), LIMIT orders rest until a later candle crosses them.
 * Emits 'request' (FakeRequest) when a request has arrived (before any fault or answer) and 'order'
 * (FakeOrder) when an order is accepted, before it answers.
 */

/** One market's candles on the fake exchange. */
export type FakeDataset = {
  market: 'spot' | 'futures';
  /** Unified symbol, e.g. 'BTC/USDT' (futures are listed as BTC/USDT:USDT by ccxt). */
  symbol: string;
  timeframe: string;
  candles: Candles;
  /** Spot trading filters advertised in exchangeInfo and enforced on orders (default: Binance's BTCUSDT). */
  filters?: FakeSymbolFilters;
};

/** A fault applied to the next matching request(s). */
export type FakeFault =
  /**
   * An HTTP error status. With `code`, the body is Binance's JSON error {"code", "msg"} (`msg` defaults
   * to Binance's text for the code); without, 429/418 carry -1003 and 5xx an HTML error page.
   * `Retry-After` (seconds) when given.
   */
  | { kind: 'status'; status: number; retryAfterSeconds?: number; code?: number; msg?: string }
  /** Answer after `delayMs`. */
  | { kind: 'slow'; delayMs: number }
  /** Never answer (the socket stays open until the client gives up or the server closes). */
  | { kind: 'hang' }
  /** Serve only the first `rows` rows of the page (a short page). */
  | { kind: 'truncate'; rows: number }
  /** Send the headers and half the body, then destroy the socket. */
  | { kind: 'drop' }
  /**
   * Process the request (an order is recorded and filled), then answer with an HTTP error as `status`
   * does: Binance's "execution status unknown" case.
   */
  | { kind: 'acceptThenStatus'; status: number; code?: number; msg?: string }
  /** Process the request (an order is recorded and filled), then never answer. */
  | { kind: 'acceptThenHang' };

export type FakeExchangeOptions = {
  datasets: FakeDataset[];
  /** More listed symbols without data (spot and futures), so symbol lists look like an exchange's. */
  extraSymbols?: string[];
  /** Exchange clock (epoch ms). Default: the close of the latest candle of any dataset (all closed). */
  now?: number;
  /** Latency added to every HTTP request (ms). */
  latencyMs?: number;
  /** Advance the clock by `stepMs` every `everyMs` of real time (for streams), pushing kline updates. */
  autoAdvance?: { everyMs: number; stepMs: number };
  /** Port (default: any free port). */
  port?: number;
  /** Spot trading accounts (API key, secret, starting balances). */
  accounts?: FakeAccountOptions[];
  /** Trading fees as fractions (default 0.001 taker and maker, Binance's base rate). */
  fees?: { taker?: number; maker?: number };
};

/** One logged HTTP request. */
export type FakeRequest = {
  method: string;
  path: string;
  /** URL query parameters. */
  query: Record<string, string>;
  /** The form body of a POST (signed parameters), as sent. */
  body?: string;
  /** Whether the request carried an API key (a signed, private endpoint). */
  signed: boolean;
  status: number;
  at: number;
  fault?: FakeFault['kind'];
  /** Binance's error code of the answer, if it was an error. */
  code?: number;
};

type WsSocket = {
  readyState: number;
  send(data: string): void;
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'close', listener: () => void): void;
  terminate(): void;
};
type WsServer = {
  handleUpgrade(request: http.IncomingMessage, socket: Duplex, head: Buffer, callback: (ws: WsSocket) => void): void;
  close(): void;
};
// `ws` ships no type declarations; this is the part of its API used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { WebSocketServer } = require('ws') as { WebSocketServer: new (options: { noServer: true }) => WsServer };

/** Binance's messages for the general server and network error codes (10xx). */
const BINANCE_ERROR_TEXT: Record<number, string> = {
  [-1000]: 'An unknown error occurred while processing the request.',
  [-1001]: 'Internal error; unable to process your request. Please try again.',
  [-1003]: 'Too many requests queued.',
  [-1004]: 'Server is busy, please wait and try again',
  [-1006]: 'An unexpected response was received from the message bus. Execution status unknown.',
  [-1007]: 'Timeout waiting for response from backend server. Send status unknown; execution status unknown.',
  [-1008]: 'Server is currently overloaded with other requests. Please try again in a few minutes.',
  [-1100]: "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'.",
  [-1121]: 'Invalid symbol.',
};

/** Binance kline intervals. */
export const BINANCE_INTERVALS = ['1s', '1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d', '3d', '1w', '1M'];
const OI_PERIODS = ['5m', '15m', '30m', '1h', '2h', '4h', '6h', '12h', '1d'];
const FUNDING_INTERVAL_MS = 8 * 3_600_000;

/** Binance prints prices and sizes with 8 decimals; the served dataset is the given one rounded so. */
const round8 = (x: number): number => Number(x.toFixed(8));
const fixed8 = (x: number): string => x.toFixed(8);

type Listing = { market: 'spot' | 'futures'; base: string; quote: string; id: string };
type Series = { market: 'spot' | 'futures'; id: string; interval: string; stepMs: number; candles: Candles };

/** The running fake exchange. */
export class FakeExchange extends EventEmitter {
  /** http://127.0.0.1:<port>: give it to ccxt as `apiUrl`. */
  readonly url: string;
  /** Every HTTP request served, in order. */
  readonly requests: FakeRequest[] = [];
  private clock: number;
  private readonly server: http.Server;
  private readonly wss: WsServer;
  private readonly series: Series[];
  private readonly listings: Listing[];
  private readonly faults: Array<{ match: string; fault: FakeFault; remaining: number }> = [];
  private readonly sockets = new Set<{ ws: WsSocket; futures: boolean; streams: Set<string> }>();
  private readonly httpSockets = new Set<Duplex>();
  /** Called whenever a websocket opens or closes (waitForWebSocketCount). */
  private readonly socketWatchers = new Set<() => void>();
  private readonly latencyMs: number;
  private timer?: NodeJS.Timeout;
  private tradeId = 1;
  private readonly book: FakeSpotBook;
  private readonly filters = new Map<string, Required<FakeSymbolFilters>>();
  private readonly prices = new Map<string, number>();

  private constructor(server: http.Server, port: number, options: FakeExchangeOptions) {
    super();
    this.server = server;
    this.url = `http://127.0.0.1:${port}`;
    this.latencyMs = options.latencyMs ?? 0;
    this.series = options.datasets.map((d) => {
      const stepMs = timeframeMs(d.timeframe);
      const c = d.candles;
      const candles = Frame.fromColumns(
        c.time,
        {
          open: c.column('open').map(round8),
          high: c.column('high').map(round8),
          low: c.column('low').map(round8),
          close: c.column('close').map(round8),
          volume: c.column('volume').map(round8),
        },
        { ...c.meta, symbol: d.symbol, timeframe: d.timeframe, exchange: 'binance' },
      ) as Candles;
      return { market: d.market, id: marketId(d.symbol), interval: d.timeframe, stepMs, candles };
    });
    const listed = new Map<string, Listing>();
    const addListing = (market: 'spot' | 'futures', symbol: string): void => {
      const [base, quote] = symbol.split(':')[0].split('/');
      listed.set(`${market}:${base}${quote}`, { market, base, quote, id: `${base}${quote}` });
    };
    for (const d of options.datasets) addListing(d.market, d.symbol);
    for (const s of options.extraSymbols ?? ['ETH/USDT', 'SOL/USDT', 'BNB/USDT', 'XRP/USDT']) {
      addListing('spot', s);
      addListing('futures', s);
    }
    this.listings = [...listed.values()];
    for (const d of options.datasets) if (d.market === 'spot' && d.filters) this.filters.set(marketId(d.symbol), { ...DEFAULT_FILTERS, ...d.filters });
    this.book = new FakeSpotBook(
      options.accounts ?? [],
      (id) => {
        const l = this.listings.find((x) => x.market === 'spot' && x.id === id);
        return l && { id: l.id, base: l.base, quote: l.quote, filters: this.filters.get(l.id) ?? DEFAULT_FILTERS };
      },
      (id) => this.price(id),
      () => this.clock,
      { taker: options.fees?.taker ?? 0.001, maker: options.fees?.maker ?? 0.001 },
    );
    const lastClose = Math.max(0, ...this.series.map((s) => (s.candles.length ? s.candles.time[s.candles.length - 1] + s.stepMs : 0)));
    this.clock = options.now ?? lastClose;
    this.wss = new WebSocketServer({ noServer: true });
    server.on('request', (req, res) => void this.handleHttp(req, res));
    server.on('connection', (socket) => {
      this.httpSockets.add(socket);
      socket.on('close', () => this.httpSockets.delete(socket));
    });
    server.on('upgrade', (req, socket, head) => this.handleUpgrade(req, socket, head));
    if (options.autoAdvance) {
      const { everyMs, stepMs } = options.autoAdvance;
      this.timer = setInterval(() => this.setNow(this.clock + stepMs), everyMs);
    }
  }

  /** Start a fake exchange on 127.0.0.1. */
  static async start(options: FakeExchangeOptions): Promise<FakeExchange> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('fake exchange: no TCP address');
    return new FakeExchange(server, address.port, options);
  }

  /** The exchange clock (epoch ms). */
  get now(): number {
    return this.clock;
  }

  /**
   * Move the clock. Subscribed kline streams get Binance's messages: the final (x=true) message of every
   * candle that closed on the way, then an update (x=false) of the candle now forming; trade streams get
   * the trades of the time passed.
   */
  setNow(ms: number): void {
    const previous = this.clock;
    this.clock = ms;
    // Resting limit orders fill when a candle closing on the way crosses their price.
    const resting = this.book.restingSymbols();
    for (const s of this.series) {
      if (s.market !== 'spot' || !resting.has(s.id)) continue;
      const { candles, stepMs } = s;
      for (let i = 0; i < candles.length; i++) {
        const close = candles.time[i] + stepMs;
        if (close > previous && close <= ms) this.book.matchLimits(s.id, candles.column('low')[i], candles.column('high')[i]);
        if (close > ms) break;
      }
    }
    for (const client of this.sockets) {
      for (const stream of client.streams) this.pushStream(client, stream, previous, ms);
    }
  }

  /**
   * The spot price orders fill at: the price set with `setPrice`, else the close of the latest closed
   * candle (of the finest timeframe) at the exchange clock.
   */
  price(symbol: string): number | undefined {
    const id = marketId(symbol);
    const set = this.prices.get(id);
    if (set !== undefined) return set;
    const series = this.series.filter((s) => s.market === 'spot' && s.id === id).sort((a, b) => a.stepMs - b.stepMs)[0];
    if (!series) return undefined;
    let last = -1;
    while (last + 1 < series.candles.length && series.candles.time[last + 1] + series.stepMs <= this.clock) last++;
    return last < 0 ? undefined : series.candles.column('close')[last];
  }

  /** Fix the spot price orders fill at (undefined: back to the candles). */
  setPrice(symbol: string, price: number | undefined): void {
    if (price === undefined) this.prices.delete(marketId(symbol));
    else this.prices.set(marketId(symbol), price);
  }

  /** Orders placed (all accounts, or one API key's), oldest first. */
  orders(apiKey?: string): FakeOrder[] {
    return this.book.orders.filter((o) => apiKey === undefined || o.apiKey === apiKey);
  }

  /** Fills (myTrades rows), oldest first. */
  trades(apiKey?: string): FakeTrade[] {
    return this.book.trades.filter((t) => apiKey === undefined || t.apiKey === apiKey);
  }

  /** An account's balances per asset (free and locked). */
  balances(apiKey: string): Record<string, FakeBalance> {
    const account = this.book.accounts.get(apiKey);
    if (!account) throw new Error(`fake exchange: no account with key ${apiKey.slice(0, 4)}…`);
    return Object.fromEntries([...account.balance.entries()].map(([asset, b]) => [asset, { ...b }]));
  }

  /** Change an account's free balance of `asset` (a deposit, a withdrawal, a trade made elsewhere). */
  setBalance(apiKey: string, asset: string, free: number): void {
    const account = this.book.accounts.get(apiKey);
    if (!account) throw new Error(`fake exchange: no account with key ${apiKey.slice(0, 4)}…`);
    this.book.balanceOf(account, asset).free = free;
  }

  /** Skew the clock signed requests are checked against (ms; to provoke -1021). */
  setRecvClockOffset(ms: number): void {
    this.book.clockOffsetMs = ms;
  }

  /** The dataset as served (prices rounded to 8 decimals like Binance's strings), all candles. */
  candles(market: 'spot' | 'futures', symbol: string, timeframe: string): Candles {
    return this.findSeries(market, marketId(symbol), timeframe)!.candles;
  }

  /** The candles closed at the current clock, as served. */
  closedCandles(market: 'spot' | 'futures', symbol: string, timeframe: string): Candles {
    const s = this.findSeries(market, marketId(symbol), timeframe)!;
    let end = 0;
    while (end < s.candles.length && s.candles.time[end] + s.stepMs <= this.clock) end++;
    return s.candles.slice(0, end);
  }

  /** Funding-rate history (every 8 h) of a futures dataset, as served. */
  funding(symbol: string): Array<{ time: number; rate: number }> {
    const s = this.futuresBase(marketId(symbol));
    return s ? fundingSeries(s).filter((f) => f.time <= this.clock) : [];
  }

  /** Open-interest history at `period` of a futures dataset, as served. */
  openInterest(symbol: string, period: string): Array<{ time: number; openInterest: number; value: number }> {
    const s = this.futuresBase(marketId(symbol));
    return s ? openInterestSeries(s, timeframeMs(period)).filter((row) => row.time <= this.clock) : [];
  }

  /**
   * Apply `fault` to the next `times` HTTP requests whose path contains `match` (e.g. 'klines',
   * 'fundingRate', 'exchangeInfo'), or, when `match` starts with a method ('POST /api/v3/order'), whose
   * method and path are exactly those. Faults queue in order.
   */
  fault(match: string, fault: FakeFault, times = 1): void {
    this.faults.push({ match, fault, remaining: times });
  }

  /** Remove every queued fault; returns how many requests they would still have hit. */
  clearFaults(): number {
    const remaining = this.faults.reduce((sum, f) => sum + f.remaining, 0);
    this.faults.length = 0;
    return remaining;
  }

  /** Drop every open websocket connection (as a network failure would). */
  dropWebSockets(): void {
    for (const client of this.sockets) client.ws.terminate();
    this.sockets.clear();
    this.notifySockets();
  }

  /** Number of open websocket connections. */
  get webSocketCount(): number {
    return this.sockets.size;
  }

  /**
   * Websocket connections still open, not counting those whose closing handshake has begun (a client
   * that has finished closing has always received the server's close frame, so it is not counted).
   */
  get openWebSocketCount(): number {
    let open = 0;
    for (const client of this.sockets) if (client.ws.readyState === 1) open++;
    return open;
  }

  /**
   * Resolves when the server holds exactly `count` websocket connections (a client's close reaches the
   * server a moment after the client sees it); rejects after `timeoutMs`, naming the count, so a
   * leaked socket fails a test instead of hanging it.
   */
  waitForWebSocketCount(count: number, timeoutMs = 5000): Promise<void> {
    if (this.sockets.size === count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.sockets.size !== count) return;
        clearTimeout(timer);
        this.socketWatchers.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.socketWatchers.delete(check);
        reject(new Error(`fake exchange: ${this.sockets.size} websocket(s) still open after ${timeoutMs} ms, expected ${count}`));
      }, timeoutMs);
      this.socketWatchers.add(check);
    });
  }

  /** Stop the server and every connection. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.dropWebSockets();
    this.wss.close();
    for (const socket of this.httpSockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- HTTP ----

  private async handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const query = Object.fromEntries(url.searchParams);
    const method = (req.method ?? 'GET').toUpperCase();
    const signed = typeof req.headers['x-mbx-apikey'] === 'string';
    const record: FakeRequest = { method, path: url.pathname, query, signed, status: 200, at: Date.now() };
    this.requests.push(record);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    if (rawBody) record.body = rawBody;
    this.emit('request', record);
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    const fault = this.takeFault(method, url.pathname);
    if (fault) record.fault = fault.kind;
    if (fault?.kind === 'hang') return;
    if (fault?.kind === 'slow') await sleep(fault.delayMs);
    if (fault?.kind === 'status') {
      this.sendStatusFault(res, record, fault);
      return;
    }
    let status = 200;
    let body: unknown;
    try {
      const trading = this.trading(method, url, query, rawBody, req.headers);
      body = trading !== undefined ? trading : method === 'GET' ? this.route(url.pathname, query, fault?.kind === 'truncate' ? fault.rows : undefined) : undefined;
      if (body === undefined) {
        status = 404;
        body = '<html><body><h2>404 Not found</h2></body></html>';
      }
    } catch (error) {
      if (!(error instanceof BinanceError)) throw error;
      status = error.httpStatus;
      record.code = error.code;
      body = { code: error.code, msg: error.message };
    }
    if (fault?.kind === 'acceptThenHang') return;
    if (fault?.kind === 'acceptThenStatus') {
      this.sendStatusFault(res, record, fault);
      return;
    }
    record.status = status;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    if (fault?.kind === 'drop') {
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      res.write(text.slice(0, Math.floor(text.length / 2)));
      setTimeout(() => req.socket.destroy(), 5);
      return;
    }
    res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/html' : 'application/json', 'x-mbx-used-weight-1m': '2' });
    res.end(text);
  }

  /**
   * The signed spot endpoints; undefined for other paths. Parameters come from the query and the form
   * body together, as Binance reads them.
   */
  private trading(method: string, url: URL, query: Record<string, string>, rawBody: string, headers: http.IncomingHttpHeaders): unknown {
    const key = `${method} ${url.pathname}`;
    const endpoints = ['GET /api/v3/account', 'POST /api/v3/order', 'POST /api/v3/order/test', 'GET /api/v3/order', 'DELETE /api/v3/order', 'GET /api/v3/openOrders', 'DELETE /api/v3/openOrders', 'GET /api/v3/myTrades'];
    if (!endpoints.includes(key)) return undefined;
    const params = { ...query, ...Object.fromEntries(new URLSearchParams(rawBody)) };
    const account = this.book.authenticate(headers, url.search.replace(/^\?/, ''), rawBody, params);
    switch (key) {
      case 'GET /api/v3/account':
        return this.book.account(account);
      case 'POST /api/v3/order':
      case 'POST /api/v3/order/test': {
        const { order, response } = this.book.newOrder(account, params, key.endsWith('/test'));
        if (order) this.emit('order', order);
        return response;
      }
      case 'GET /api/v3/order':
        return this.book.getOrder(account, params);
      case 'DELETE /api/v3/order':
        return this.book.cancelOrder(account, params);
      case 'GET /api/v3/openOrders':
        return this.book.openOrders(account, params);
      case 'DELETE /api/v3/openOrders':
        return this.book.cancelOpen(account, params);
      default:
        return this.book.myTrades(account, params);
    }
  }

  /** Answer with an HTTP error: Binance's JSON {code, msg}, or for a bare 5xx an HTML error page. */
  private sendStatusFault(res: http.ServerResponse, record: FakeRequest, fault: { status: number; retryAfterSeconds?: number; code?: number; msg?: string }): void {
    record.status = fault.status;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
    const message =
      fault.code !== undefined
        ? { code: fault.code, msg: fault.msg ?? BINANCE_ERROR_TEXT[fault.code] ?? 'An unknown error occurred while processing the request.' }
        : fault.status === 429
          ? { code: -1003, msg: 'Too many requests; current limit of IP is 6000 requests per minute. Please use WebSocket Streams for live updates to avoid polling the API.' }
          : fault.status === 418
            ? { code: -1003, msg: 'Way too many requests; IP banned until ' + (Date.now() + 1000) + '. Please use WebSocket Streams for live updates to avoid bans.' }
            : undefined;
    if (message) record.code = message.code;
    else if (fault.status >= 500) headers['content-type'] = 'text/html';
    res.writeHead(fault.status, headers);
    res.end(message ? JSON.stringify(message) : fault.status >= 500 ? '<html><body><h1>' + fault.status + ' Service Unavailable</h1></body></html>' : '');
  }

  private notifySockets(): void {
    for (const watcher of [...this.socketWatchers]) watcher();
  }

  private takeFault(method: string, pathname: string): FakeFault | undefined {
    const index = this.faults.findIndex((f) => {
      const [m, p] = f.match.split(' ');
      return p !== undefined && /^[A-Z]+$/.test(m) ? m === method && p === pathname : pathname.includes(f.match);
    });
    if (index < 0) return undefined;
    const entry = this.faults[index];
    if (--entry.remaining <= 0) this.faults.splice(index, 1);
    return entry.fault;
  }

  private route(pathname: string, q: Record<string, string>, truncateRows: number | undefined): unknown {
    const cut = <T>(rows: T[]): T[] => (truncateRows === undefined ? rows : rows.slice(0, truncateRows));
    switch (pathname) {
      case '/api/v3/ping':
      case '/fapi/v1/ping':
        return {};
      case '/api/v3/time':
      case '/fapi/v1/time':
        return { serverTime: this.clock };
      case '/api/v3/exchangeInfo':
        return this.exchangeInfo('spot');
      case '/fapi/v1/exchangeInfo':
        return this.exchangeInfo('futures');
      case '/dapi/v1/exchangeInfo':
        return { timezone: 'UTC', serverTime: this.clock, rateLimits: [], exchangeFilters: [], symbols: [] };
      case '/api/v3/klines':
        return cut(this.klines('spot', q, 1000));
      case '/fapi/v1/klines':
        return cut(this.klines('futures', q, 1500));
      case '/api/v3/ticker/24hr':
      case '/api/v3/ticker/price':
        return this.ticker(q, pathname.endsWith('/price'));
      case '/fapi/v1/fundingRate':
        return cut(this.fundingRate(q));
      case '/futures/data/openInterestHist':
        return cut(this.openInterestHist(q));
      default:
        return undefined;
    }
  }

  /** A spot ticker at the exchange clock: the price orders fill at, and the day's candles before it. */
  private ticker(q: Record<string, string>, priceOnly: boolean): unknown {
    const id = (q.symbol ?? '').toUpperCase();
    if (!id) throw new BinanceError(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
    const listing = this.listings.find((l) => l.market === 'spot' && l.id === id);
    if (!listing) throw new BinanceError(-1121, 'Invalid symbol.');
    const price = this.price(`${listing.base}/${listing.quote}`);
    if (price === undefined) throw new BinanceError(-1121, 'Invalid symbol.');
    if (priceOnly) return { symbol: id, price: price.toFixed(8) };
    const text = (x: number): string => x.toFixed(8);
    return {
      symbol: id, priceChange: '0.00000000', priceChangePercent: '0.000', weightedAvgPrice: text(price), prevClosePrice: text(price), lastPrice: text(price), lastQty: '0.00000000',
      bidPrice: text(price), bidQty: '1.00000000', askPrice: text(price), askQty: '1.00000000', openPrice: text(price), highPrice: text(price), lowPrice: text(price),
      volume: '0.00000000', quoteVolume: '0.00000000', openTime: this.clock - 86_400_000, closeTime: this.clock, firstId: 0, lastId: 0, count: 0,
    };
  }

  private exchangeInfo(market: 'spot' | 'futures'): unknown {
    const symbols = this.listings
      .filter((l) => l.market === market)
      .map((l) => ({ l, f: this.filters.get(l.id) ?? DEFAULT_FILTERS }))
      .map(({ l, f }) =>
        market === 'spot'
          ? {
              symbol: l.id,
              status: 'TRADING',
              baseAsset: l.base,
              baseAssetPrecision: 8,
              quoteAsset: l.quote,
              quotePrecision: 8,
              quoteAssetPrecision: 8,
              baseCommissionPrecision: 8,
              quoteCommissionPrecision: 8,
              orderTypes: ['LIMIT', 'LIMIT_MAKER', 'MARKET', 'STOP_LOSS_LIMIT', 'TAKE_PROFIT_LIMIT'],
              icebergAllowed: true,
              ocoAllowed: true,
              otoAllowed: true,
              quoteOrderQtyMarketAllowed: true,
              allowTrailingStop: true,
              cancelReplaceAllowed: true,
              isSpotTradingAllowed: true,
              isMarginTradingAllowed: true,
              filters: [
                { filterType: 'PRICE_FILTER', minPrice: fixed8(f.tickSize), maxPrice: '1000000.00000000', tickSize: fixed8(f.tickSize) },
                { filterType: 'LOT_SIZE', minQty: fixed8(f.minQty), maxQty: fixed8(f.maxQty), stepSize: fixed8(f.stepSize) },
                { filterType: 'NOTIONAL', minNotional: fixed8(f.minNotional), applyMinToMarket: true, maxNotional: '9000000.00000000', applyMaxToMarket: false, avgPriceMins: 5 },
                { filterType: 'MARKET_LOT_SIZE', minQty: '0.00000000', maxQty: '100.00000000', stepSize: '0.00000000' },
              ],
              permissions: [],
              permissionSets: [['SPOT', 'MARGIN']],
              defaultSelfTradePreventionMode: 'EXPIRE_MAKER',
              allowedSelfTradePreventionModes: ['EXPIRE_TAKER', 'EXPIRE_MAKER', 'EXPIRE_BOTH'],
            }
          : {
              symbol: l.id,
              pair: l.id,
              contractType: 'PERPETUAL',
              deliveryDate: 4133404800000,
              onboardDate: 1569398400000,
              status: 'TRADING',
              maintMarginPercent: '2.5000',
              requiredMarginPercent: '5.0000',
              baseAsset: l.base,
              quoteAsset: l.quote,
              marginAsset: l.quote,
              pricePrecision: 2,
              quantityPrecision: 3,
              baseAssetPrecision: 8,
              quotePrecision: 8,
              underlyingType: 'COIN',
              underlyingSubType: ['PoW'],
              triggerProtect: '0.0500',
              liquidationFee: '0.012500',
              marketTakeBound: '0.05',
              maxMoveOrderLimit: 10000,
              filters: [
                { filterType: 'PRICE_FILTER', minPrice: '0.10', maxPrice: '4529764', tickSize: '0.10' },
                { filterType: 'LOT_SIZE', minQty: '0.001', maxQty: '1000', stepSize: '0.001' },
                { filterType: 'MARKET_LOT_SIZE', minQty: '0.001', maxQty: '120', stepSize: '0.001' },
                { filterType: 'MAX_NUM_ORDERS', limit: 200 },
                { filterType: 'MIN_NOTIONAL', notional: '100' },
              ],
              orderTypes: ['LIMIT', 'MARKET', 'STOP', 'STOP_MARKET', 'TAKE_PROFIT', 'TAKE_PROFIT_MARKET', 'TRAILING_STOP_MARKET'],
              timeInForce: ['GTC', 'IOC', 'FOK', 'GTX', 'GTD'],
            },
      );
    const rateLimits =
      market === 'spot'
        ? [
            { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 6000 },
            { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 100 },
            { rateLimitType: 'RAW_REQUESTS', interval: 'MINUTE', intervalNum: 5, limit: 61000 },
          ]
        : [
            { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 2400 },
            { rateLimitType: 'ORDERS', interval: 'MINUTE', intervalNum: 1, limit: 1200 },
          ];
    return market === 'spot'
      ? { timezone: 'UTC', serverTime: this.clock, rateLimits, exchangeFilters: [], symbols }
      : { timezone: 'UTC', serverTime: this.clock, futuresType: 'U_MARGINED', rateLimits, exchangeFilters: [], assets: [], symbols };
  }

  private listing(market: 'spot' | 'futures', id: string | undefined): Listing {
    if (!id) throw new BinanceError(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
    const found = this.listings.find((l) => l.market === market && l.id === id);
    if (!found) throw new BinanceError(-1121, 'Invalid symbol.');
    return found;
  }

  private findSeries(market: 'spot' | 'futures', id: string, interval: string): Series | undefined {
    return this.series.find((s) => s.market === market && s.id === id && s.interval === interval);
  }

  private futuresBase(id: string): Series | undefined {
    const all = this.series.filter((s) => s.market === 'futures' && s.id === id);
    return all.sort((a, b) => b.stepMs - a.stepMs)[0];
  }

  /** GET klines: Binance's selection rules for startTime/endTime/limit, the forming candle partial. */
  private klines(market: 'spot' | 'futures', q: Record<string, string>, maxLimit: number): unknown[] {
    const listing = this.listing(market, q.symbol);
    if (!q.interval || !BINANCE_INTERVALS.includes(q.interval)) throw new BinanceError(-1120, 'Invalid interval.');
    const limit = q.limit === undefined ? 500 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new BinanceError(-1100, "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.");
    if (limit > maxLimit) throw new BinanceError(-1130, "Data sent for parameter 'limit' is not valid.");
    const series = this.findSeries(market, listing.id, q.interval);
    if (!series) return [];
    const { candles, stepMs } = series;
    const start = q.startTime === undefined ? undefined : Number(q.startTime);
    const end = Math.min(q.endTime === undefined ? Infinity : Number(q.endTime), this.clock);
    const indexes: number[] = [];
    for (let i = 0; i < candles.length; i++) {
      const t = candles.time[i];
      if (t > end) break;
      if (start === undefined || t >= start) indexes.push(i);
    }
    const selected = start === undefined ? indexes.slice(-limit) : indexes.slice(0, limit);
    return selected.map((i) => this.klineRow(candles, i, stepMs));
  }

  /** Candle i as served at the current clock: final if closed, else partial up to now. */
  private candleAt(candles: Candles, i: number, stepMs: number): { t: number; o: number; h: number; l: number; c: number; v: number; closed: boolean } {
    const t = candles.time[i];
    const o = candles.column('open')[i];
    const fraction = (this.clock - t) / stepMs;
    if (fraction >= 1) {
      return { t, o, h: candles.column('high')[i], l: candles.column('low')[i], c: candles.column('close')[i], v: candles.column('volume')[i], closed: true };
    }
    const c = round8(o + (candles.column('close')[i] - o) * fraction);
    return { t, o, h: Math.max(o, c), l: Math.min(o, c), c, v: round8(candles.column('volume')[i] * fraction), closed: false };
  }

  private klineRow(candles: Candles, i: number, stepMs: number): unknown[] {
    const k = this.candleAt(candles, i, stepMs);
    const quote = k.v * ((k.o + k.c) / 2);
    return [k.t, fixed8(k.o), fixed8(k.h), fixed8(k.l), fixed8(k.c), fixed8(k.v), k.t + stepMs - 1, fixed8(quote), Math.round(k.v * 10) + 1, fixed8(k.v / 2), fixed8(quote / 2), '0'];
  }

  private fundingRate(q: Record<string, string>): unknown[] {
    const listing = q.symbol ? this.listing('futures', q.symbol) : undefined;
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new BinanceError(-1130, "Data sent for parameter 'limit' is not valid.");
    const series = listing ? this.futuresBase(listing.id) : undefined;
    if (!series || !listing) return [];
    const start = q.startTime === undefined ? undefined : Number(q.startTime);
    const end = q.endTime === undefined ? Infinity : Number(q.endTime);
    const rows = fundingSeries(series).filter((f) => f.time <= this.clock && f.time <= end && (start === undefined || f.time >= start));
    const selected = start === undefined ? rows.slice(-limit) : rows.slice(0, limit);
    return selected.map((f) => ({ symbol: listing.id, fundingTime: f.time, fundingRate: fixed8(f.rate), markPrice: fixed8(f.markPrice) }));
  }

  private openInterestHist(q: Record<string, string>): unknown[] {
    const listing = this.listing('futures', q.symbol);
    if (!q.period || !OI_PERIODS.includes(q.period)) throw new BinanceError(-1120, 'Invalid period.');
    const limit = q.limit === undefined ? 30 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new BinanceError(-1130, "Data sent for parameter 'limit' is not valid.");
    const series = this.futuresBase(listing.id);
    if (!series) return [];
    const start = q.startTime === undefined ? undefined : Number(q.startTime);
    const end = q.endTime === undefined ? Infinity : Number(q.endTime);
    const rows = openInterestSeries(series, timeframeMs(q.period)).filter((r) => r.time <= this.clock && r.time <= end && (start === undefined || r.time >= start));
    const selected = start === undefined ? rows.slice(-limit) : rows.slice(0, limit);
    return selected.map((r) => ({ symbol: listing.id, sumOpenInterest: fixed8(r.openInterest), sumOpenInterestValue: fixed8(r.value), timestamp: r.time }));
  }

  // ---- websocket ----

  private handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', this.url);
    // ccxt's URLs keep the real host as the first path segment: /fstream.binance.com/market/ws/0 is futures.
    const futures = /\/fstream\./.test(url.pathname) || url.pathname.startsWith('/fws');
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const client = { ws, futures, streams: new Set<string>() };
      this.sockets.add(client);
      this.notifySockets();
      // Raw streams in the path (/ws/btcusdt@kline_1m) or combined (/stream?streams=a/b).
      const last = url.pathname.split('/').pop() ?? '';
      for (const name of [...(last.includes('@') ? [last] : []), ...(url.searchParams.get('streams')?.split('/') ?? [])]) this.subscribe(client, name);
      ws.on('message', (data) => {
        let message: { method?: string; params?: string[]; id?: number | string };
        try {
          message = JSON.parse(data.toString('utf8'));
        } catch {
          ws.send(JSON.stringify({ error: { code: 3, msg: 'Invalid JSON: expected value at line 1 column 1' } }));
          return;
        }
        if (message.method === 'SUBSCRIBE') {
          for (const name of message.params ?? []) this.subscribe(client, name);
          ws.send(JSON.stringify({ result: null, id: message.id }));
        } else if (message.method === 'UNSUBSCRIBE') {
          for (const name of message.params ?? []) client.streams.delete(name);
          ws.send(JSON.stringify({ result: null, id: message.id }));
        } else if (message.method === 'LIST_SUBSCRIPTIONS') {
          ws.send(JSON.stringify({ result: [...client.streams], id: message.id }));
        } else {
          ws.send(JSON.stringify({ error: { code: 2, msg: `Invalid request: unknown variant \`${message.method}\`` }, id: message.id ?? null }));
        }
      });
      ws.on('close', () => {
        this.sockets.delete(client);
        this.notifySockets();
      });
    });
  }

  private subscribe(client: { ws: WsSocket; futures: boolean; streams: Set<string> }, name: string): void {
    client.streams.add(name);
    // Binance pushes the forming candle right away; the subscription reply comes first.
    setImmediate(() => this.pushStream(client, name, this.clock, this.clock));
  }

  /** Send a stream's messages for the clock moving from `from` to `to`. */
  private pushStream(client: { ws: WsSocket; futures: boolean; streams: Set<string> }, name: string, from: number, to: number): void {
    if (client.ws.readyState !== 1) return;
    const [id, channel] = name.split('@');
    const market = client.futures ? 'futures' : 'spot';
    if (channel?.startsWith('kline_')) {
      const series = this.findSeries(market, id.toUpperCase(), channel.slice('kline_'.length));
      if (!series) return;
      const { candles, stepMs } = series;
      for (let i = 0; i < candles.length; i++) {
        const t = candles.time[i];
        if (t > to) break;
        // Final messages for candles closing in (from, to]; one update for the candle forming at `to`.
        const closesInside = t + stepMs > from && t + stepMs <= to;
        const forming = t <= to && to < t + stepMs;
        if (!closesInside && !forming) continue;
        const k = this.candleAt(candles, i, stepMs);
        client.ws.send(JSON.stringify(this.klineEvent(id.toUpperCase(), channel.slice(6), k, stepMs)));
      }
    } else if (channel === 'trade' || channel === 'aggTrade') {
      const series = this.findSeries(market, id.toUpperCase(), '1m') ?? this.series.find((s) => s.market === market && s.id === id.toUpperCase());
      if (!series || to <= from) return;
      for (const trade of candleTrades(series.candles, series.stepMs)) {
        if (trade.time <= from || trade.time > to) continue;
        const tradeId = this.tradeId++;
        client.ws.send(
          JSON.stringify(
            channel === 'trade'
              ? { e: 'trade', E: trade.time, s: id.toUpperCase(), t: tradeId, p: fixed8(trade.price), q: fixed8(trade.amount), T: trade.time, m: trade.buyerMaker, M: true }
              : { e: 'aggTrade', E: trade.time, s: id.toUpperCase(), a: tradeId, p: fixed8(trade.price), q: fixed8(trade.amount), f: tradeId, l: tradeId, T: trade.time, m: trade.buyerMaker, M: true },
          ),
        );
      }
    }
  }

  private klineEvent(symbol: string, interval: string, k: ReturnType<FakeExchange['candleAt']>, stepMs: number): unknown {
    const quote = k.v * ((k.o + k.c) / 2);
    return {
      e: 'kline',
      E: this.clock,
      s: symbol,
      k: {
        t: k.t,
        T: k.t + stepMs - 1,
        s: symbol,
        i: interval,
        f: 100,
        L: 200,
        o: fixed8(k.o),
        c: fixed8(k.c),
        h: fixed8(k.h),
        l: fixed8(k.l),
        v: fixed8(k.v),
        n: 100,
        x: k.closed,
        q: fixed8(quote),
        V: fixed8(k.v / 2),
        Q: fixed8(quote / 2),
        B: '0',
      },
    };
  }
}

/** Start a fake Binance on 127.0.0.1 (see `FakeExchange`). */
export function startFakeExchange(options: FakeExchangeOptions): Promise<FakeExchange> {
  return FakeExchange.start(options);
}


/** 'BTC/USDT' or 'BTC/USDT:USDT' → Binance's id 'BTCUSDT'. */
function marketId(symbol: string): string {
  return symbol.split(':')[0].replace('/', '').toUpperCase();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Funding every 8 h (00:00, 08:00, 16:00 UTC) over the dataset: a base rate plus a term following the
 * previous 8 h return (longs pay more after rallies), rounded to 8 decimals like Binance.
 */
function fundingSeries(series: Series): Array<{ time: number; rate: number; markPrice: number }> {
  const { candles, stepMs } = series;
  const out: Array<{ time: number; rate: number; markPrice: number }> = [];
  if (candles.length === 0) return out;
  const close = candles.column('close');
  const first = Math.ceil(candles.time[0] / FUNDING_INTERVAL_MS) * FUNDING_INTERVAL_MS;
  const last = candles.time[candles.length - 1] + stepMs;
  for (let time = first; time <= last; time += FUNDING_INTERVAL_MS) {
    const now = indexAtOrBefore(candles.time, time - 1);
    const before = indexAtOrBefore(candles.time, time - FUNDING_INTERVAL_MS - 1);
    if (now < 0) continue;
    const change = before < 0 ? 0 : close[now] / close[before] - 1;
    out.push({ time, rate: round8(Math.max(-0.0075, Math.min(0.0075, 0.0001 + 0.01 * change))), markPrice: close[now] });
  }
  return out;
}

/** Open interest at every multiple of `periodMs` in the dataset's span: a slow cycle plus recent volume. */
function openInterestSeries(series: Series, periodMs: number): Array<{ time: number; openInterest: number; value: number }> {
  const { candles } = series;
  const out: Array<{ time: number; openInterest: number; value: number }> = [];
  if (candles.length === 0) return out;
  const close = candles.column('close');
  const volume = candles.column('volume');
  const first = Math.ceil(candles.time[0] / periodMs) * periodMs;
  for (let time = first; time <= candles.time[candles.length - 1]; time += periodMs) {
    const i = indexAtOrBefore(candles.time, time);
    const oi = round8(50_000 + 5_000 * Math.sin(i / 50) + 0.5 * volume[i]);
    out.push({ time, openInterest: oi, value: round8(oi * close[i]) });
  }
  return out;
}

/** Four trades per candle reproducing it: open, high, low, close, volume split evenly. */
function candleTrades(candles: Candles, stepMs: number): Array<{ time: number; price: number; amount: number; buyerMaker: boolean }> {
  const out: Array<{ time: number; price: number; amount: number; buyerMaker: boolean }> = [];
  const [o, h, l, c, v] = (['open', 'high', 'low', 'close', 'volume'] as const).map((n) => candles.column(n));
  for (let i = 0; i < candles.length; i++) {
    const t = candles.time[i];
    const prices = c[i] >= o[i] ? [o[i], l[i], h[i], c[i]] : [o[i], h[i], l[i], c[i]];
    prices.forEach((price, j) => out.push({ time: t + Math.floor(((j + 0.5) * stepMs) / 4), price, amount: round8(v[i] / 4), buyerMaker: j % 2 === 1 }));
  }
  return out;
}

function indexAtOrBefore(time: Float64Array, t: number): number {
  let lo = 0;
  let hi = time.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (time[mid] <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}
