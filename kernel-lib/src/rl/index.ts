export {
  TradingEnvironment,
  environmentCosts,
  DEFAULT_REWARD,
  DISCRETE_TARGETS,
  type EnvironmentCosts,
  type EnvironmentMarket,
  type EnvironmentOptions,
  type EnvironmentStep,
  type RewardWeights,
} from './trading-env';
export { oraclePolicy, type OracleResult } from './oracle';
export { greedyRun, greedyAction, type Policy, type GreedyRun, type LearningPoint, type AgentContext } from './policy';
export { initMlp, forwardMlp, MlpScratch, type MlpWeights } from './networks';
export { trainPpo, type PpoSettings, type PpoResult } from './ppo';
export { trainDqn, type DqnSettings, type DqnResult } from './dqn';
export { ppoModel, dqnModel, rlModels, ppoParams, dqnParams, RlPolicyModel, marketFromReturns, RL_FILES, type PpoParams, type DqnParams } from './rl-model';
