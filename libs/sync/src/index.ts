export * from './plan';
export * from './revision';
export * from './files';
