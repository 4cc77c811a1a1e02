/**
 * The empty image and the empty index, as ggcr's `empty.Image` and `empty.Index`: starting
 * points for building images and indexes by appending to them. Both have exactly the bytes
 * ggcr gives them, so they have ggcr's digests.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as ConfigFile from "./ConfigFile.js"
import { BlobNotFound, type InvalidDocument } from "./Errors.js"
import type * as Image from "./Image.js"
import * as ImageIndex from "./ImageIndex.js"
import type * as ImageLayer from "./ImageLayer.js"
import * as IndexManifest from "./IndexManifest.js"
import * as MediaType from "./MediaType.js"
import * as Partial from "./Partial.js"

/**
 * The config of the empty image, as ggcr serialises its zero `ConfigFile`: empty architecture
 * and os, Go's zero time as `created`, rootfs type `layers` with `null` diff ids, an empty run
 * config.
 *
 * @since 0.1.0
 */
export const configFile: ConfigFile.ConfigFile = {
  architecture: "",
  created: "0001-01-01T00:00:00Z",
  os: "",
  rootfs: { type: "layers", diff_ids: null },
  config: {}
}

/** The bytes of the config: 115 bytes, `sha256:5b943e2b...`. */
const rawConfigFile = ConfigFile.encode(configFile)

/**
 * An image with no layers: a Docker v2 schema 2 manifest and the config above, as ggcr's
 * `empty.Image`.
 *
 * @since 0.1.0
 */
export const image: Image.Image<InvalidDocument> = Partial.fromLayers(
  Effect.succeed(rawConfigFile),
  Effect.succeed<ReadonlyArray<ImageLayer.ImageLayer>>([]),
  { mediaType: MediaType.DOCKER_MANIFEST }
)

/**
 * The index manifest of the empty index: an OCI index with no children.
 *
 * @since 0.1.0
 */
export const indexManifest: IndexManifest.IndexManifest = IndexManifest.make([], { mediaType: MediaType.OCI_INDEX })

const rawIndex = IndexManifest.toRaw(indexManifest)

/**
 * An OCI index with no children, as ggcr's `empty.Index`. Asking it for any child fails with
 * `BlobNotFound`.
 *
 * @since 0.1.0
 */
export const index: ImageIndex.ImageIndex = ImageIndex.make({
  raw: Effect.succeed(rawIndex),
  child: (digest) => Effect.fail(new BlobNotFound({ kind: "child manifest", digest }))
})
