import { Module } from '@nestjs/common';
import { EventTtlController } from './event-ttl.controller';

/** Event lifetime: expiry after --event-ttl. */
@Module({ providers: [EventTtlController] })
export class EventsModule {}
