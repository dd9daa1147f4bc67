/**
 * Image reference parsing from @berth/oci, loaded on first use: the oci barrel brings the whole
 * registry client (and Nest) with it, which commands that never look at an image should not pay
 * for at start-up.
 */
import type * as Oci from '@berth/oci';

let oci: typeof Oci | undefined;

export function parseImageReference(image: string): Oci.ImageReference {
  oci ??= require('@berth/oci') as typeof Oci;
  return oci.parseReference(image);
}
