export * from './restart-decision';
export * from './container-supervisor';
