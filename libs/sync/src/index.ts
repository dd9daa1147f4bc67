export * from './plan';
export * from './revision';
export * from './files';
export * from './source';
export * from './drift';
export * from './apply';
export * from './inventory';
export * from './syncer';
