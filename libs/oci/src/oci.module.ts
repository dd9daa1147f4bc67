import { Module, type DynamicModule } from '@nestjs/common';
import { ImageService, type ImageServiceOptions } from './image-service';

/**
 * Nest wrapper: provides one ImageService (inject it by class) over the given data directory,
 * initialised (directories made, crash leftovers cleared) before the application starts.
 */
@Module({})
export class OciModule {
  static forRoot(options: ImageServiceOptions): DynamicModule {
    return {
      module: OciModule,
      providers: [
        {
          provide: ImageService,
          useFactory: async (): Promise<ImageService> => {
            const svc = new ImageService(options);
            await svc.init();
            return svc;
          },
        },
      ],
      exports: [ImageService],
    };
  }
}
