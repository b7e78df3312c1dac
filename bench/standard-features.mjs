// The benchmarks' 50 standard feature columns (features bench, XGBoost training bench).

/** The 50 columns: the catalogue's standard indicators at common periods. */
export const STANDARD_FEATURES = [
  { id: 'core/returns', params: { periods: [1, 2, 4, 8, 16, 32, 64] } },
  { id: 'core/returns', params: { periods: [1, 4, 16], log: true } },
  ...[7, 14, 28].map((period) => ({ id: 'core/rsi', params: { period } })),
  ...[10, 20, 50, 100, 200].map((period) => ({ id: 'core/ema', params: { period } })),
  ...[10, 20, 50, 100, 200].map((period) => ({ id: 'core/sma', params: { period } })),
  { id: 'core/wma', params: { period: 20 } },
  { id: 'core/macd', params: {} },
  { id: 'core/bollinger', params: { period: 20 } },
  { id: 'core/bollinger', params: { period: 50 } },
  { id: 'core/atr', params: {} },
  { id: 'core/stochastic', params: {} },
  { id: 'core/williams-r', params: {} },
  { id: 'core/cci', params: {} },
  { id: 'core/roc', params: {} },
  { id: 'core/obv', params: {} },
  { id: 'core/adx', params: {} },
  { id: 'core/vwap', params: {} },
  { id: 'core/volume', params: {} },
  { id: 'core/trend-slope', params: {} },
  { id: 'core/volatility', params: {} },
  { id: 'core/candle-shape', params: {} },
];
