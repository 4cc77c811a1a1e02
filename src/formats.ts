/**
 * Sources and sinks over files and streams: docker-save tarballs and OCI image layouts.
 *
 * @since 0.1.0
 */
export * as Layout from "./formats/Layout.js"
export * as Tarball from "./formats/Tarball.js"
