/**
 * An Arrow IPC stream writer whose output is a message's tensor frames, not one joined buffer.
 *
 * Joining would allocate a fresh buffer per message, which on this VM costs ~3 ms per MiB in page
 * faults (and V8 frees it only at the next GC), while zeromq sends large frames without copying.
 * So large chunks (the tensor bodies: views of the tensors' own memory) stay separate frames and
 * only runs of small chunks (metadata, padding) are joined. The receiver concatenates the frames.
 */
import { RecordBatchStreamWriter } from 'apache-arrow';

/** Chunks of at least this size become frames as they are (zero-copy); smaller runs are joined. */
const ZERO_COPY_BYTES = 16 * 1024;

/** `RecordBatchStreamWriter` that keeps its chunks; `frames()` gives them as message frames. */
export class FrameWriter extends RecordBatchStreamWriter {
  private readonly chunks: Uint8Array[] = [];

  /** The frames written so far (call after `writeAll`). */
  frames(): Uint8Array[] {
    return coalesce(this.chunks);
  }

  protected override _write(chunk: unknown): this {
    const before = this._position;
    super._write(chunk as never);
    if (this._position > before) {
      if (!ArrayBuffer.isView(chunk)) throw new Error(`FrameWriter: unexpected Arrow writer chunk of type ${typeof chunk}`);
      this.chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    }
    return this;
  }
}

/** Joins runs of small chunks; large chunks stay separate frames (no copy). */
function coalesce(chunks: Uint8Array[]): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  const flush = () => {
    if (run.length > 0) frames.push(run.length === 1 ? run[0]! : Buffer.concat(run));
    run = [];
  };
  for (const chunk of chunks) {
    if (chunk.byteLength >= ZERO_COPY_BYTES) {
      flush();
      frames.push(chunk);
    } else {
      run.push(chunk);
    }
  }
  flush();
  return frames;
}
