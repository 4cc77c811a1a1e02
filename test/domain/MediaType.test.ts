import { describe, expect, it } from "@effect/vitest"
import * as MediaType from "../../src/domain/MediaType.js"

const manifests = [MediaType.OCI_MANIFEST, MediaType.DOCKER_MANIFEST]
const indexes = [MediaType.OCI_INDEX, MediaType.DOCKER_MANIFEST_LIST]
const schema1 = [MediaType.DOCKER_MANIFEST_SCHEMA1, MediaType.DOCKER_MANIFEST_SCHEMA1_SIGNED]
const configs = [MediaType.OCI_CONFIG, MediaType.DOCKER_CONFIG]
const layers: ReadonlyArray<readonly [string, MediaType.Compression, boolean]> = [
  [MediaType.OCI_LAYER, "none", true],
  [MediaType.OCI_LAYER_GZIP, "gzip", true],
  [MediaType.OCI_LAYER_ZSTD, "zstd", true],
  [MediaType.OCI_RESTRICTED_LAYER, "none", false],
  [MediaType.OCI_RESTRICTED_LAYER_GZIP, "gzip", false],
  [MediaType.OCI_RESTRICTED_LAYER_ZSTD, "zstd", false],
  [MediaType.DOCKER_LAYER, "gzip", true],
  [MediaType.DOCKER_UNCOMPRESSED_LAYER, "none", true],
  [MediaType.DOCKER_FOREIGN_LAYER, "gzip", false],
  [MediaType.DOCKER_FOREIGN_LAYER_UNCOMPRESSED, "none", false]
]
const artifact = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

describe("MediaType predicates", () => {
  it("tells image manifests from indexes", () => {
    for (const mt of manifests) expect([MediaType.isImage(mt), MediaType.isIndex(mt)]).toEqual([true, false])
    for (const mt of indexes) expect([MediaType.isImage(mt), MediaType.isIndex(mt)]).toEqual([false, true])
  })

  it("recognises Docker schema 1 as a manifest but neither image nor index", () => {
    for (const mt of schema1) {
      expect(MediaType.isSchema1(mt)).toBe(true)
      expect(MediaType.isManifest(mt)).toBe(true)
      expect(MediaType.isImage(mt) || MediaType.isIndex(mt)).toBe(false)
    }
  })

  it("counts images, indexes and schema 1 as what the manifests endpoint serves, and nothing else", () => {
    for (const mt of [...manifests, ...indexes, ...schema1]) expect(MediaType.isManifest(mt)).toBe(true)
    for (const mt of [...configs, MediaType.OCI_LAYER_GZIP, MediaType.OCI_DESCRIPTOR, artifact]) {
      expect(MediaType.isManifest(mt)).toBe(false)
    }
  })

  it("recognises configs of both families", () => {
    for (const mt of configs) expect(MediaType.isConfig(mt)).toBe(true)
    expect(MediaType.isConfig(MediaType.OCI_EMPTY_JSON)).toBe(false)
    expect(MediaType.isConfig(MediaType.DOCKER_PLUGIN_CONFIG)).toBe(false)
  })

  it.each(layers)("knows %s as a layer compressed with %s (distributable: %s)", (mt, compression, distributable) => {
    expect(MediaType.isLayer(mt)).toBe(true)
    expect(MediaType.layerCompression(mt)).toBe(compression)
    expect(MediaType.isDistributable(mt)).toBe(distributable)
  })

  it("passes unknown types through: not a layer, no compression, distributable", () => {
    for (const mt of [artifact, "application/vnd.oci.image.layer.v1.tar+unknown"]) {
      expect(MediaType.isLayer(mt)).toBe(false)
      expect(MediaType.layerCompression(mt)).toBeUndefined()
      expect(MediaType.isDistributable(mt)).toBe(true)
    }
  })

  it("sorts types into the OCI and Docker families by prefix", () => {
    const oci = [MediaType.OCI_MANIFEST, MediaType.OCI_INDEX, MediaType.OCI_LAYER_ZSTD, MediaType.OCI_EMPTY_JSON]
    for (const mt of oci) {
      expect([MediaType.isOci(mt), MediaType.isDocker(mt)]).toEqual([true, false])
    }
    for (const mt of [MediaType.DOCKER_MANIFEST, MediaType.DOCKER_CONFIG, MediaType.DOCKER_FOREIGN_LAYER]) {
      expect([MediaType.isOci(mt), MediaType.isDocker(mt)]).toEqual([false, true])
    }
    expect(MediaType.isOci(artifact) || MediaType.isDocker(artifact)).toBe(false)
  })
})

describe("MediaType family helpers", () => {
  it("gives Docker manifests Docker layer types where one exists", () => {
    expect(MediaType.layerFor(MediaType.DOCKER_MANIFEST, "gzip")).toBe(MediaType.DOCKER_LAYER)
    expect(MediaType.layerFor(MediaType.DOCKER_MANIFEST, "none")).toBe(MediaType.DOCKER_UNCOMPRESSED_LAYER)
    expect(MediaType.layerFor(MediaType.DOCKER_MANIFEST, "zstd")).toBe(MediaType.OCI_LAYER_ZSTD)
  })

  it("gives OCI manifests OCI layer types", () => {
    expect(MediaType.layerFor(MediaType.OCI_MANIFEST, "gzip")).toBe(MediaType.OCI_LAYER_GZIP)
    expect(MediaType.layerFor(MediaType.OCI_MANIFEST, "none")).toBe(MediaType.OCI_LAYER)
    expect(MediaType.layerFor(MediaType.OCI_MANIFEST, "zstd")).toBe(MediaType.OCI_LAYER_ZSTD)
  })

  it("round-trips every layer type's compression through layerFor within its family", () => {
    for (const [mt, compression] of layers) {
      const family = MediaType.isDocker(mt) ? MediaType.DOCKER_MANIFEST : MediaType.OCI_MANIFEST
      expect(MediaType.layerCompression(MediaType.layerFor(family, compression))).toBe(compression)
    }
  })

  it("gives each manifest family its config type", () => {
    expect(MediaType.configFor(MediaType.DOCKER_MANIFEST)).toBe(MediaType.DOCKER_CONFIG)
    expect(MediaType.configFor(MediaType.OCI_MANIFEST)).toBe(MediaType.OCI_CONFIG)
  })
})
