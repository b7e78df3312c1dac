/**
 * Test tools for candlelab users and plugin authors: `import { startFakeExchange } from 'candlelab/testing'`.
 * The fake exchange is a Binance stand-in on 127.0.0.1 speaking the real wire formats (REST and
 * websocket streams) over seeded candles, with injectable faults; point ccxt at it with `apiUrl`.
 */
export {
  startFakeExchange,
  FakeExchange,
  BINANCE_INTERVALS,
  type FakeDataset,
  type FakeFault,
  type FakeExchangeOptions,
  type FakeRequest,
  type FakeAccountOptions,
  type FakeBalance,
  type FakeOrder,
  type FakeSymbolFilters,
  type FakeTrade,
} from './fake-exchange';
/** Stand-ins for the services alerts go to: Telegram + Slack (one HTTP server) and SMTP. */
export {
  startFakeChatServer,
  startFakeSmtpServer,
  FAKE_SLACK_PATH,
  type FakeChatMessage,
  type FakeChatMode,
  type FakeChatServer,
  type FakeSmtpMessage,
  type FakeSmtpServer,
} from './fake-alert-services';
/** A real redis-server on a free local port, for tests of the BullMQ queue (`--queue`). */
export { startLocalRedis, redisServerAvailable, type LocalRedis, type LocalRedisOptions } from './redis-server';
