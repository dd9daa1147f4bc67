export * from './types';
export * from './overlay-snapshotter';
export * from './mounter';
