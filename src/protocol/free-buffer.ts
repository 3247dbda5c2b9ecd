/**
 * Gives a buffer's memory back now rather than at some later garbage collection: the buffers that
 * hold a request in progress live long enough to be promoted to V8's old generation, which frees
 * them only in a full collection, and clients refused over and over left tens of MiB of them
 * waiting for one (docs/limits.md). `ArrayBuffer.prototype.transfer(0)` detaches the memory from its
 * ArrayBuffer, and V8 frees it at once when nothing else shares it.
 *
 * Only for a buffer its caller allocated and nobody else holds a view of (never a socket's read).
 * One that does not span its ArrayBuffer, a slice of Node's pool (`Buffer.allocUnsafe` under
 * 4 KiB), is left to the collector, as is everything where `transfer` is missing (Node 20). A freed
 * buffer reads as empty.
 */
/** Smaller ones are left to the collector: not worth a call, and a small typed array lives in the V8 heap. */
const WORTH_FREEING = 4096;

type Transferable = ArrayBufferLike & { transfer?: (length: number) => ArrayBuffer };

export function freeBuffer(buffer: ArrayBufferView | null): void {
  if (buffer === null || buffer.byteLength < WORTH_FREEING || buffer.byteOffset !== 0) return;
  if (buffer.byteLength !== buffer.buffer.byteLength) return;
  (buffer.buffer as Transferable).transfer?.(0);
}
