/**
 * The domain model: digests, media types, descriptors, platforms, manifests, indexes, config
 * files, references, and the image model (images, indexes, layers, partial, mutate, ...).
 * Pure values and functions; no I/O services.
 *
 * @since 0.1.0
 */
export * as Compression from "./Compression.js"
export * as ConfigFile from "./ConfigFile.js"
export * as Descriptor from "./Descriptor.js"
export * as Digest from "./Digest.js"
export * as Empty from "./Empty.js"
export * as Errors from "./Errors.js"
export * as Extract from "./Extract.js"
export * as Image from "./Image.js"
export * as ImageIndex from "./ImageIndex.js"
export * as ImageLayer from "./ImageLayer.js"
export * as IndexManifest from "./IndexManifest.js"
export * as Manifest from "./Manifest.js"
export * as MediaType from "./MediaType.js"
export * as Mutate from "./Mutate.js"
export * as Partial from "./Partial.js"
export * as Platform from "./Platform.js"
export * as Random from "./Random.js"
export * as RawDocument from "./RawDocument.js"
export * as Reference from "./Reference.js"
export * as Static from "./Static.js"
export * as StreamLayer from "./StreamLayer.js"
export * as Validate from "./Validate.js"
