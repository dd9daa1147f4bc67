export * from './types';
export * from './keys';
export * from './redis-store';
export * from './redis-errors';
export * from './embedded-redis';
export * from './store.module';
export {
  encodeContinue,
  decodeContinue,
  bumpsGeneration,
  jsonEqual,
  rfc3339,
  generateName,
  type ContinueToken,
} from './object-utils';
