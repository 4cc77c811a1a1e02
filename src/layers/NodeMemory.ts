/**
 * Tuning of a Node process's native memory for transfers. Every file read and socket read
 * lands in a fresh buffer, which Node takes from the C allocator. glibc's `malloc` serves
 * blocks above its mmap threshold (128 KiB at start) with a fresh `mmap` each, and hands freed
 * memory back to the system as soon as 128 KiB lie free at the top of its heap; every such
 * block then costs a page fault per 4 KiB when it is touched. Pushing 1 GiB from an OCI layout
 * (1 MiB file reads) took about 72,000 page faults.
 *
 * glibc raises both thresholds on its own when a block above the threshold is freed (the
 * dynamic mmap threshold, up to 32 MiB; the trim threshold follows at twice that).
 * {@link prime} frees one such block, untouched, at start: afterwards 1 MiB reads reuse the
 * heap, and up to ~62 MiB of freed memory is kept for reuse rather than returned. The same push
 * then takes about 23,000 faults and a quarter less CPU, for a few MiB more peak RSS. With
 * another allocator (musl, macOS) it allocates and frees 31 MiB that were never touched.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * The size of the block {@link prime} frees: under glibc's 32 MiB ceiling for the dynamic
 * mmap threshold, counting the block's header.
 *
 * @since 0.1.0
 */
export const primeBytes = 31 * 1024 * 1024

/**
 * Allocates one block of {@link primeBytes} outside the JavaScript heap and lets it go; the
 * allocator sees it freed at the next garbage collection. Meant to run once, at the start of a
 * program that moves large blobs (the `crane` bin does).
 *
 * @since 0.1.0
 */
export const prime: Effect.Effect<void> = Effect.sync(() => {
  // Never touched, so never resident; only its free matters.
  void Buffer.allocUnsafeSlow(primeBytes)
})

/**
 * {@link prime} as a layer, for a program's runtime.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<never> = Layer.effectDiscard(prime)
