/**
 * Media types of the OCI image spec and Docker's v2 formats, and predicates over them, as
 * ggcr's `types` package.
 *
 * A media type is kept as a plain string: registries and tools use types we do not list
 * (artifacts, signatures, attestations), and those must pass through untouched.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/** A media type string. Known values are the constants below; any other string is allowed. */
export type MediaType = string

/** Schema of a media type field. */
export const MediaType: Schema.Schema<MediaType> = Schema.String.annotations({ identifier: "MediaType" })

// OCI image spec
/** OCI image index. */
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json"
/** OCI image manifest. */
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
/** OCI image config. */
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
/** OCI layer, uncompressed tar. */
export const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
/** OCI layer, gzip-compressed tar. */
export const OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
/** OCI layer, zstd-compressed tar. */
export const OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
/** OCI non-distributable (foreign) layer, uncompressed. Deprecated by the spec, still seen. */
export const OCI_RESTRICTED_LAYER = "application/vnd.oci.image.layer.nondistributable.v1.tar"
/** OCI non-distributable (foreign) layer, gzip. */
export const OCI_RESTRICTED_LAYER_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
/** OCI non-distributable (foreign) layer, zstd. */
export const OCI_RESTRICTED_LAYER_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
/** The empty JSON descriptor `{}` used as config of artifacts. */
export const OCI_EMPTY_JSON = "application/vnd.oci.empty.v1+json"
/** A bare OCI content descriptor (seen as the type of entries in OCI layouts' `index.json`). */
export const OCI_DESCRIPTOR = "application/vnd.oci.descriptor.v1+json"
/** The OCI image layout's `oci-layout` file content type (not a blob type). */
export const OCI_LAYOUT_HEADER = "application/vnd.oci.layout.header.v1+json"

// Docker v2
/** Docker v2 schema 2 manifest list. */
export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
/** Docker v2 schema 2 image manifest. */
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
/** Docker v2 schema 1 manifest (unsigned). */
export const DOCKER_MANIFEST_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
/** Docker v2 schema 1 manifest (signed). */
export const DOCKER_MANIFEST_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
/** Docker image config. */
export const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
/** Docker layer, gzip-compressed tar. */
export const DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
/** Docker layer, uncompressed tar (rarely seen). */
export const DOCKER_UNCOMPRESSED_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
/** Docker foreign (non-distributable) layer. */
export const DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
/** Docker foreign (non-distributable) layer, uncompressed (containers/image writes it). */
export const DOCKER_FOREIGN_LAYER_UNCOMPRESSED = "application/vnd.docker.image.rootfs.foreign.diff.tar"
/** Docker plugin config. */
export const DOCKER_PLUGIN_CONFIG = "application/vnd.docker.plugin.v1+json"

/**
 * True for index media types (OCI index, Docker manifest list).
 *
 * @since 0.1.0
 */
export const isIndex = (mt: MediaType): boolean => mt === OCI_INDEX || mt === DOCKER_MANIFEST_LIST

/**
 * True for image manifest media types (OCI manifest, Docker v2 schema 2).
 *
 * @since 0.1.0
 */
export const isImage = (mt: MediaType): boolean => mt === OCI_MANIFEST || mt === DOCKER_MANIFEST

/**
 * True for Docker schema 1 manifests, which this library recognises but does not build.
 *
 * @since 0.1.0
 */
export const isSchema1 = (mt: MediaType): boolean =>
  mt === DOCKER_MANIFEST_SCHEMA1 || mt === DOCKER_MANIFEST_SCHEMA1_SIGNED

/**
 * True for anything a registry serves from its manifests endpoint.
 *
 * @since 0.1.0
 */
export const isManifest = (mt: MediaType): boolean => isIndex(mt) || isImage(mt) || isSchema1(mt)

/**
 * True for image config media types.
 *
 * @since 0.1.0
 */
export const isConfig = (mt: MediaType): boolean => mt === OCI_CONFIG || mt === DOCKER_CONFIG

const layerTypes: ReadonlySet<string> = new Set([
  OCI_LAYER,
  OCI_LAYER_GZIP,
  OCI_LAYER_ZSTD,
  OCI_RESTRICTED_LAYER,
  OCI_RESTRICTED_LAYER_GZIP,
  OCI_RESTRICTED_LAYER_ZSTD,
  DOCKER_LAYER,
  DOCKER_UNCOMPRESSED_LAYER,
  DOCKER_FOREIGN_LAYER,
  DOCKER_FOREIGN_LAYER_UNCOMPRESSED
])

/**
 * True for filesystem layer media types (tar, tar+gzip, tar+zstd, OCI and Docker, including
 * non-distributable ones).
 *
 * @since 0.1.0
 */
export const isLayer = (mt: MediaType): boolean => layerTypes.has(mt)

/**
 * False for non-distributable (foreign) layers, which registries do not hold and copies skip;
 * true for everything else.
 *
 * @since 0.1.0
 */
export const isDistributable = (mt: MediaType): boolean =>
  mt !== DOCKER_FOREIGN_LAYER &&
  mt !== DOCKER_FOREIGN_LAYER_UNCOMPRESSED &&
  mt !== OCI_RESTRICTED_LAYER &&
  mt !== OCI_RESTRICTED_LAYER_GZIP &&
  mt !== OCI_RESTRICTED_LAYER_ZSTD

/** How the bytes of a layer media type are compressed. */
export type Compression = "none" | "gzip" | "zstd"

/**
 * The compression a layer media type declares, when it is a known layer type.
 *
 * @since 0.1.0
 */
export const layerCompression = (mt: MediaType): Compression | undefined => {
  switch (mt) {
    case OCI_LAYER:
    case OCI_RESTRICTED_LAYER:
    case DOCKER_UNCOMPRESSED_LAYER:
    case DOCKER_FOREIGN_LAYER_UNCOMPRESSED:
      return "none"
    case OCI_LAYER_GZIP:
    case OCI_RESTRICTED_LAYER_GZIP:
    case DOCKER_LAYER:
    case DOCKER_FOREIGN_LAYER:
      return "gzip"
    case OCI_LAYER_ZSTD:
    case OCI_RESTRICTED_LAYER_ZSTD:
      return "zstd"
    default:
      return undefined
  }
}

/**
 * True when the type belongs to the Docker v2 family (manifest, list, config or layer).
 *
 * @since 0.1.0
 */
export const isDocker = (mt: MediaType): boolean => mt.startsWith("application/vnd.docker.")

/**
 * True when the type belongs to the OCI family.
 *
 * @since 0.1.0
 */
export const isOci = (mt: MediaType): boolean => mt.startsWith("application/vnd.oci.")

/**
 * The layer media type matching a manifest's family and a compression: Docker manifests get
 * Docker layer types where one exists, OCI manifests get OCI types.
 *
 * @since 0.1.0
 */
export const layerFor = (manifestMediaType: MediaType, compression: Compression): MediaType => {
  if (manifestMediaType === DOCKER_MANIFEST) {
    if (compression === "gzip") return DOCKER_LAYER
    if (compression === "none") return DOCKER_UNCOMPRESSED_LAYER
  }
  return compression === "gzip" ? OCI_LAYER_GZIP : compression === "zstd" ? OCI_LAYER_ZSTD : OCI_LAYER
}

/**
 * The config media type matching a manifest's family.
 *
 * @since 0.1.0
 */
export const configFor = (manifestMediaType: MediaType): MediaType =>
  manifestMediaType === DOCKER_MANIFEST ? DOCKER_CONFIG : OCI_CONFIG
