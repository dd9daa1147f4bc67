import { Module } from '@nestjs/common';
import { DeploymentController } from './deployment.controller';

/** The Deployment controller; it registers itself with the ControllerManager. */
@Module({ providers: [DeploymentController] })
export class DeploymentModule {}
