export * from './types';
export * from './spec';
export * from './user';
export * from './runc';
export * from './exit-watcher';
export * from './logs';
export * from './cgroups';
export * from './bundle';
