export { ModelRegistry, type ModelVersion, type ModelStage, type RegisterRequest } from './model-registry';
