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
/**
 * The plugin contract as executable checks (`candlelab plugin test` runs them): a feature's warm-up
 * and causality, a labeler's horizon, a model's save/load and seed, a strategy's prefix targets, a
 * source's point-in-time rows. Each throws a ContractError naming the definition, the row and the column.
 */
export {
  checkFeature,
  checkLabeler,
  checkModel,
  checkStrategy,
  checkSource,
  checkPlugin,
  contractCandles,
  contractTrainingData,
  contractPredictions,
  ContractError,
  type ContractResult,
  type PluginCheckEntry,
  type FeatureCheckOptions,
  type LabelerCheckOptions,
  type ModelCheckOptions,
  type StrategyCheckOptions,
  type SourceCheckOptions,
} from './contracts';
