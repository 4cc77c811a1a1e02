/**
 * The `pipe` method shared by image, index and layer values, so that
 * `image.pipe(Mutate.appendLayers(layers))` reads like Effect's own data types.
 *
 * @internal
 */
import { type Pipeable, pipeArguments } from "effect/Pipeable"

/** A `pipe` method for object literals; `this` is the value it is called on. */
export const pipeMethod = function (this: unknown) {
  // eslint-disable-next-line prefer-rest-params
  return pipeArguments(this, arguments)
} as Pipeable["pipe"]
