import { describe, expect, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import * as BlobStore from "../../src/services/BlobStore.js"

describe("BlobStore.isUploadId", () => {
  it("accepts the lower-case UUIDs stores make and nothing else", () => {
    const id = randomUUID()
    expect(BlobStore.isUploadId(id)).toBe(true)
    for (const bad of [id.toUpperCase(), `${id}/`, `../${id}`, id.slice(1), "", "..", 42, undefined]) {
      expect(BlobStore.isUploadId(bad)).toBe(false)
    }
  })
})

describe("BlobStoreError", () => {
  it("says what failed and about which upload or blob", () => {
    const upload = new BlobStore.BlobStoreError({
      reason: "RangeMismatch",
      detail: "chunk starts at offset 10 but the upload holds 3 bytes",
      uploadId: "u1",
      size: 3
    })
    expect(upload.message).toBe(
      "blob store: RangeMismatch for upload \"u1\": chunk starts at offset 10 but the upload holds 3 bytes"
    )
    const blob = new BlobStore.BlobStoreError({ reason: "Io", detail: "disk full", digest: "sha256:ab" })
    expect(blob.message).toBe("blob store: Io for blob \"sha256:ab\": disk full")
    expect(blob._tag).toBe("BlobStoreError")
  })
})
