/**
 * Services and the operations written against them: the registry transport and its errors, keychains, remote operations, progress, and the stores under the registry server.
 *
 * @since 0.1.0
 */
export * as BlobStore from "./services/BlobStore.js"
export * as Keychain from "./services/Keychain.js"
export * as ManifestStore from "./services/ManifestStore.js"
export * as Progress from "./services/Progress.js"
export * as RegistryError from "./services/RegistryError.js"
export * as RegistryTransport from "./services/RegistryTransport.js"
export * as Remote from "./services/Remote.js"
