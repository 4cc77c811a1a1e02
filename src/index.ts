/**
 * effect-containerregistry: container images and registries for Effect.
 *
 * The root entry holds the domain model, the formats, the services and their layers, and the
 * registry server, as namespaces (`Reference`, `Remote`, `Layout`, `Registry`, ...). The crane
 * facade is under `Crane` (its modules share names with the domain's `Mutate` and `Validate`).
 * Each area is also a subpath export (`effect-containerregistry/domain`, `/services`,
 * `/remote`, `/formats`, `/layers`, `/registry`, `/crane`); prefer those in applications so
 * bundlers load only what is used.
 *
 * @since 0.1.0
 */
export * as Crane from "./crane.js"
export * from "./domain.js"
export * from "./formats.js"
export * from "./layers.js"
export * from "./registry.js"
export * from "./services.js"
