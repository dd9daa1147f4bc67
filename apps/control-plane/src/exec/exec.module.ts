import { Module } from '@nestjs/common';
import { PodExecProxy } from './pod-exec.proxy';

/** `pods/{name}/exec`: the WebSocket upgrade, proxied to the agent of the pod's node. */
@Module({ providers: [PodExecProxy] })
export class ExecModule {}
