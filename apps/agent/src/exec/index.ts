export * from './runc-exec';
export * from './exec-session';
