import * as ManifestStoreMemory from "../../src/layers/ManifestStoreMemory.js"
import { manifestStoreSuite } from "../services/ManifestStore.suite.js"

manifestStoreSuite("ManifestStoreMemory", ManifestStoreMemory.layer)
