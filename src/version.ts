/**
 * The version of this library, sent in the `User-Agent` header of registry requests. Kept
 * equal to `version` in package.json (a test checks it).
 *
 * @since 0.1.0
 */
export const version = "0.1.0"
