import { All, Controller, Req, Res } from '@nestjs/common';
import { ApiError } from '@berth/api';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { openApiDocuments } from './openapi';

/**
 * GET /openapi/v3 (the index) and /openapi/v3/{api/v1 | apis/GROUP/VERSION}. Authenticated like
 * every other path (the onRequest hook). A document asked for with its current `?hash=` is
 * immutable and cacheable; with a stale hash the client is redirected to the current one, as
 * Kubernetes does. There is no /openapi/v2: kubectl asks for it only in protobuf, and a 404 is
 * what it expects from servers without it.
 */
@Controller()
export class OpenApiController {
  @All(['openapi/v3', 'openapi/v3/*'])
  async serve(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const [path, search] = req.url.split('?');
    if (req.method !== 'GET')
      throw new ApiError('MethodNotAllowed', `${req.method} is not allowed on ${path}`);
    const { index, docs } = openApiDocuments();
    const key = path.replace(/^\/openapi\/v3\/?/, '').replace(/\/$/, '');
    if (key === '') {
      await reply
        .code(200)
        .header('content-type', 'application/json')
        .header('cache-control', 'no-cache, private')
        .send(index);
      return;
    }
    const doc = docs.get(key);
    if (!doc) throw new ApiError('NotFound', `the server could not find the requested resource (${path})`);
    const hash = new URLSearchParams(search ?? '').get('hash');
    if (hash !== null && hash !== doc.hash) {
      await reply.code(301).header('location', `/openapi/v3/${key}?hash=${doc.hash}`).send();
      return;
    }
    await reply
      .code(200)
      .header('content-type', 'application/json')
      .header('etag', `"${doc.hash}"`)
      .header('cache-control', hash !== null ? 'public, immutable, max-age=31536000' : 'no-cache, private')
      .send(doc.json);
  }
}
