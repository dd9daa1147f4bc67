export * from './plan';
export * from './revision';
