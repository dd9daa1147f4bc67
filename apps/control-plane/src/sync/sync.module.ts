import { Module } from '@nestjs/common';
import { SyncController } from './sync.controller';

/** The GitOps sync of --sync-dir (a controller: runs on the leader). */
@Module({ providers: [SyncController] })
export class SyncModule {}
