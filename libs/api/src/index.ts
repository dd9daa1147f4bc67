export * from './kinds';
export * from './meta';
export * from './errors';
