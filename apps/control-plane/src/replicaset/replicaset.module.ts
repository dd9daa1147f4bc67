import { Module } from '@nestjs/common';
import { ReplicaSetController } from './replicaset.controller';

/** ReplicaSets: keep the wanted number of pods from a template. */
@Module({ providers: [ReplicaSetController] })
export class ReplicaSetModule {}
