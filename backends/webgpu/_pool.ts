// Reuses GPU buffers by size class, so a training loop allocates its buffers
// once and recycles them: creating a GPUBuffer is slow and disposal is
// frequent.

/** A GPU storage buffer and the batch of commands that last used it. */
export class GpuBuffer {
  readonly buffer: GPUBuffer;
  /** bytes the buffer has (its size class, at least what was asked for) */
  readonly size: number;
  /** the id of the last command batch recorded to touch this buffer */
  lastBatch = 0;

  constructor(buffer: GPUBuffer, size: number) {
    this.buffer = buffer;
    this.size = size;
  }
}

/**
 * The size class of a request: rounded up to a quarter of its power of two
 * (so at most 25% is wasted), at least 16 bytes, capped at `cap` when the
 * rounding alone would push it over.
 */
export function sizeClass(bytes: number, cap = Infinity): number {
  const b = Math.max(bytes, 16);
  const p = 2 ** Math.floor(Math.log2(b));
  const step = Math.max(p / 4, 16);
  const rounded = Math.ceil(b / step) * step;
  return rounded > cap ? Math.ceil(b / 4) * 4 : rounded;
}

/** Free buffers by size class. */
export class BufferPool {
  readonly #free = new Map<number, GpuBuffer[]>();
  #bytes = 0;
  #count = 0;

  /** A free buffer of exactly `size` bytes, or undefined. */
  take(size: number): GpuBuffer | undefined {
    const list = this.#free.get(size);
    const found = list?.pop();
    if (found) {
      this.#bytes -= found.size;
      this.#count--;
    }
    return found;
  }

  /** Keeps `buffer` for reuse. */
  put(buffer: GpuBuffer): void {
    let list = this.#free.get(buffer.size);
    if (!list) this.#free.set(buffer.size, list = []);
    list.push(buffer);
    this.#bytes += buffer.size;
    this.#count++;
  }

  /** Removes and returns pooled buffers until at most `keepBytes` remain, largest first. */
  drain(keepBytes: number): GpuBuffer[] {
    const out: GpuBuffer[] = [];
    const sizes = [...this.#free.keys()].sort((a, b) => b - a);
    for (const size of sizes) {
      const list = this.#free.get(size)!;
      while (list.length > 0 && this.#bytes > keepBytes) {
        const b = list.pop()!;
        this.#bytes -= b.size;
        this.#count--;
        out.push(b);
      }
      if (list.length === 0) this.#free.delete(size);
    }
    return out;
  }

  /** Buffers and bytes held for reuse. */
  get info(): { buffers: number; bytes: number } {
    return { buffers: this.#count, bytes: this.#bytes };
  }
}
