import { z } from 'zod';
import { ConfigError } from '../errors';
import { defineStrategy, type StrategyInput } from '../plugins/define';

/** The probability column of `className` for each row; throws naming the classes the model has. */
export function classProbability(input: StrategyInput, className: string): Float64Array {
  const { predictions, classes } = input;
  if (!predictions || !classes) throw new ConfigError('this strategy needs classifier predictions; add a model to the spec');
  const index = classes.indexOf(className);
  if (index < 0) throw new ConfigError(`class '${className}' is not one of the model's classes: ${classes.join(', ')}`);
  const rows = input.candles.length;
  if (predictions.length !== rows * classes.length) {
    throw new ConfigError(`predictions have ${predictions.length} values for ${rows} rows × ${classes.length} classes`);
  }
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) out[i] = predictions[i * classes.length + index];
  return out;
}

/**
 * Long while P(BUY) is above a threshold; optionally short while P(SELL) is above its threshold;
 * flat otherwise. Decided at each bar's close, filled by the backtester at the next bar's open.
 */
export const probabilityThreshold = defineStrategy({
  id: 'core/probability-threshold',
  version: '1.0.0',
  doc: 'Long when P(BUY) > buyThreshold, short when allowShort and P(SELL) > sellThreshold, else flat.',
  needs: { predictions: true, task: 'classification' },
  params: z.object({
    buyThreshold: z.number().min(0).max(1).default(0.5),
    sellThreshold: z.number().min(0).max(1).default(0.5),
    allowShort: z.boolean().default(false),
    buyClass: z.string().default('BUY'),
    sellClass: z.string().default('SELL'),
  }),
  targets: (input, p) => {
    const buy = classProbability(input, p.buyClass);
    const sell = p.allowShort ? classProbability(input, p.sellClass) : undefined;
    const out = new Float64Array(buy.length);
    for (let i = 0; i < buy.length; i++) {
      if (buy[i] > p.buyThreshold) out[i] = 1;
      else if (sell && sell[i] > p.sellThreshold) out[i] = -1;
    }
    return out;
  },
});

/** Fully long from the first bar: the benchmark every strategy is compared with. */
export const buyAndHold = defineStrategy({
  id: 'core/buy-and-hold',
  version: '1.0.0',
  doc: 'Long from the first bar to the last, no predictions needed.',
  needs: { predictions: false },
  params: z.object({}),
  targets: (input) => new Float64Array(input.candles.length).fill(1),
});

export const coreStrategies = [probabilityThreshold, buyAndHold];
