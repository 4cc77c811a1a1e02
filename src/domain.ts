/**
 * The domain model: digests, media types, descriptors, platforms, manifests, indexes, config
 * files, references, and the image model (images, indexes, layers, partial, mutate, ...).
 * Pure values and functions; no I/O services.
 *
 * @since 0.1.0
 */
export * as Compression from "./domain/Compression.js"
export * as ConfigFile from "./domain/ConfigFile.js"
export * as Descriptor from "./domain/Descriptor.js"
export * as Digest from "./domain/Digest.js"
export * as Empty from "./domain/Empty.js"
export * as Errors from "./domain/Errors.js"
export * as Extract from "./domain/Extract.js"
export * as Image from "./domain/Image.js"
export * as ImageIndex from "./domain/ImageIndex.js"
export * as ImageLayer from "./domain/ImageLayer.js"
export * as IndexManifest from "./domain/IndexManifest.js"
export * as Manifest from "./domain/Manifest.js"
export * as MediaType from "./domain/MediaType.js"
export * as Mutate from "./domain/Mutate.js"
export * as Partial from "./domain/Partial.js"
export * as Platform from "./domain/Platform.js"
export * as Random from "./domain/Random.js"
export * as RawDocument from "./domain/RawDocument.js"
export * as Reference from "./domain/Reference.js"
export * as Static from "./domain/Static.js"
export * as StreamLayer from "./domain/StreamLayer.js"
export * as Validate from "./domain/Validate.js"
