export * from './ports';
export * from './tmp';
export * from './process';
export * from './redis';
export * from './control-plane';
export * from './registry';
export * from './images';
export * from './agent';
