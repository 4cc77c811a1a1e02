/**
 * Backpressure for byte streams written to a Node `Writable` by @effect/platform-node (its
 * `NodeSink.fromWritable`, and the HTTP client's streamed request bodies). That writer writes
 * a chunk's pieces in turn and waits for `drain` when a write returns false, except after a
 * chunk's last piece, whose answer it ignores. A stream of one-piece chunks (file reads) is
 * then written with no backpressure at all: pushing a layer to a registry slower than the
 * disk queued the whole layer in memory (400-500 MiB of RSS for a 1 GiB push).
 *
 * Ending every chunk with an empty piece makes each real piece's write wait like any other.
 * An empty write adds no bytes to the body, and no chunk to a chunked one (Node writes no
 * chunk header for it).
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Stream from "effect/Stream"

const mark = new Uint8Array(0)

/**
 * `stream` with an empty piece after each chunk's last, so that the platform's writer waits
 * for `drain` after every real piece. It must be the last stage before the writer: a later
 * element-wise stage (`Stream.tap`, `Stream.mapEffect`) splits each chunk in two again.
 *
 * @internal
 */
export const withDrainMarks = <E, R>(stream: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R> =>
  Stream.mapChunks(stream, (chunk) => (Chunk.isEmpty(chunk) ? chunk : Chunk.append(chunk, mark)))
