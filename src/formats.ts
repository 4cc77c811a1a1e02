/**
 * Sources and sinks over files and streams: docker-save tarballs (current and legacy), OCI
 * image layouts, and a layer cache on disk.
 *
 * @since 0.1.0
 */
export * as LayerCache from "./formats/LayerCache.js"
export * as Layout from "./formats/Layout.js"
export * as LegacyTarball from "./formats/LegacyTarball.js"
export * as Tarball from "./formats/Tarball.js"
