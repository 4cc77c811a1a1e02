/**
 * effect-containerregistry: container images and registries for Effect.
 *
 * Each area is also a subpath export (`effect-containerregistry/domain`, ...); prefer those in
 * applications so bundlers load only what is used.
 *
 * @since 0.1.0
 */
export * from "./domain/index.js"
