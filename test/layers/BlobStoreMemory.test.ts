import * as BlobStoreMemory from "../../src/layers/BlobStoreMemory.js"
import { blobStoreSuite } from "../services/BlobStore.suite.js"

blobStoreSuite("BlobStoreMemory", BlobStoreMemory.layer)
