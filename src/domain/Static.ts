/**
 * Layers that are exactly some bytes held in memory, as ggcr's `static.NewLayer`: small
 * blobs such as configs, attestations, signatures or a tiny tar. The bytes are used as they
 * are, for both the compressed and the uncompressed stream, so digest and diff id are the
 * same: the sha256 of the bytes.
 *
 * @since 0.1.0
 */
import type * as ImageLayer from "./ImageLayer.js"
import type * as MediaType from "./MediaType.js"
import * as Partial from "./Partial.js"

/**
 * A layer of the given bytes and media type: digest and diff id are the bytes' sha256, size
 * their length, and both streams emit the bytes as they are. The bytes are copied, so later
 * changes to the caller's buffer cannot make them disagree with the digest. The extras
 * (annotations, urls, platform, artifact type) go into the layer's descriptor.
 *
 * @since 0.1.0
 */
export const layer = (
  bytes: Uint8Array,
  mediaType: MediaType.MediaType,
  extras: ImageLayer.Extras = {}
): ImageLayer.ImageLayer => Partial.staticLayer(new Uint8Array(bytes), mediaType, extras)
