export * from './kinds';
export * from './meta';
export * from './errors';
export * from './names';
export * from './quantity';
export * from './selectors';
export * from './codec';
