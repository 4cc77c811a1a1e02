/**
 * Layer implementations of the services: node HTTP transport, keychains from docker config and credential helpers, memory and filesystem stores; and the native memory tuning of a Node process that moves large blobs.
 *
 * @since 0.1.0
 */
export * as BlobStoreFileSystem from "./layers/BlobStoreFileSystem.js"
export * as BlobStoreMemory from "./layers/BlobStoreMemory.js"
export * as KeychainCredentialHelper from "./layers/KeychainCredentialHelper.js"
export * as KeychainDockerConfig from "./layers/KeychainDockerConfig.js"
export * as ManifestStoreFileSystem from "./layers/ManifestStoreFileSystem.js"
export * as ManifestStoreMemory from "./layers/ManifestStoreMemory.js"
export * as NodeMemory from "./layers/NodeMemory.js"
export * as RegistryTransportNode from "./layers/RegistryTransportNode.js"
