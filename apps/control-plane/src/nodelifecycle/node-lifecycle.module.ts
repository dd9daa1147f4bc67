import { Module } from '@nestjs/common';
import { NodeLifecycleController } from './node-lifecycle.controller';

/** Node health: NotReady on missed heartbeats, taints, eviction of pods from dead nodes. */
@Module({ providers: [NodeLifecycleController] })
export class NodeLifecycleModule {}
