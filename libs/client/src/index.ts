export * from './http';
export * from './ndjson';
export * from './client';
export * from './informer';
export * from './config';
export * from './exec';
