/**
 * The OCI distribution registry server: an HttpApp over the stores, a server Layer, store Layers and an in-process client.
 *
 * @since 0.1.0
 */
export * as OciError from "./registry/OciError.js"
export * as Registry from "./registry/Registry.js"
