export * from './work-queue';
export * from './informer';
export * from './reconciler';
export * from './event-recorder';
export * from './sleep';
