/**
 * Where a pulled blob came from, as ggcr's `MountableLayer`: layers (and images, for their
 * config) read from a registry carry the repository they were read from, so that writing them
 * to another repository of the same registry can mount them instead of uploading them.
 *
 * @since 0.1.0
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Image from "../../../domain/Image.js"
import type * as ImageIndex from "../../../domain/ImageIndex.js"
import type * as ImageLayer from "../../../domain/ImageLayer.js"
import type * as Reference from "../../../domain/Reference.js"

/**
 * The key of the repository a value was read from.
 *
 * @since 0.1.0
 */
export const MountSourceId: unique symbol = Symbol.for("effect-containerregistry/Remote/MountSource")

interface Marked {
  readonly [MountSourceId]: Reference.Repository
}

const isMarked = (u: unknown): u is Marked =>
  typeof u === "object" && u !== null && MountSourceId in u

/**
 * The repository a layer, image or index was read from, if it was read from a registry.
 *
 * @since 0.1.0
 */
export const sourceOf = (u: unknown): Reference.Repository | undefined =>
  isMarked(u) ? u[MountSourceId] : undefined

/**
 * A layer that says it was read from `repository` (the same layer otherwise).
 *
 * @since 0.1.0
 */
export const markLayer = <E>(layer: ImageLayer.ImageLayer<E>, repository: Reference.Repository): ImageLayer.ImageLayer<E> => {
  if (sourceOf(layer) === repository) return layer
  const marked: ImageLayer.ImageLayer<E> & Marked = { ...layer, [MountSourceId]: repository }
  return marked
}

/**
 * An image whose layers (and itself) say they were read from `repository`.
 *
 * @since 0.1.0
 */
export const markImage = <E>(image: Image.Image<E>, repository: Reference.Repository): Image.Image<E> => {
  const cache = new WeakMap<ImageLayer.ImageLayer<E>, ImageLayer.ImageLayer<E>>()
  const mark = (layer: ImageLayer.ImageLayer<E>): ImageLayer.ImageLayer<E> => {
    let found = cache.get(layer)
    if (found === undefined) {
      found = markLayer(layer, repository)
      cache.set(layer, found)
    }
    return found
  }
  const marked: Image.Image<E> & Marked = {
    ...image,
    [MountSourceId]: repository,
    layers: Effect.map(image.layers, (layers) => layers.map(mark)),
    layerByDigest: (digest) => Effect.map(image.layerByDigest(digest), mark),
    layerByDiffId: (diffId) => Effect.map(image.layerByDiffId(diffId), mark)
  }
  return marked
}

/**
 * An index whose child images and indexes say they were read from `repository`.
 *
 * @since 0.1.0
 */
export const markIndex = <E>(index: ImageIndex.ImageIndex<E>, repository: Reference.Repository): ImageIndex.ImageIndex<E> => {
  const markChild = (child: ImageIndex.Child<E>): ImageIndex.Child<E> => {
    switch (child._tag) {
      case "Image":
        return { ...child, image: markImage(child.image, repository) }
      case "Index":
        return { ...child, index: markIndex(child.index, repository) }
      case "Other":
        return child
    }
  }
  const marked: ImageIndex.ImageIndex<E> & Marked = {
    ...index,
    [MountSourceId]: repository,
    child: (digest) => Effect.map(index.child(digest), markChild),
    image: (digest) => Effect.map(index.image(digest), (image) => markImage(image, repository)),
    imageIndex: (digest) => Effect.map(index.imageIndex(digest), (child) => markIndex(child, repository))
  }
  return marked
}
