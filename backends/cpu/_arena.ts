// The arena: the part of the kernels' WebAssembly memory where CPU storages
// live, so kernels read and write them in place. Storages are freed by
// dispose() (autograd calls it when the last tensor lets go), but the garbage
// collector's finalizers only run when a script yields to the event loop, and
// a training loop written as a plain `for` never does. So the arena is a
// cache, not the storages' only home: when it is full, a new storage takes
// the block of one not used for the longest time (CLOCK order, per size
// class), whose elements move out to an ordinary typed array first. Memory
// stays bounded whatever the script does; storages a kernel is using (in the
// current op) are never moved.
//
// Blocks come in size classes (4 per power of two, 64-byte aligned), each
// with a free list; there is no coalescing, because a training loop asks for
// the same sizes every step.

/** Where the arena may grow, and how far. */
export interface ArenaOptions {
  /** byte address where the arena starts (64-aligned) */
  readonly base: number;
  /** bytes storages may occupy (the arena may span twice that); scratch may go past it up to the memory's size limit */
  readonly limit: number;
  /** false for a non-shared memory: growing it would detach every view, so it never grows */
  readonly growable: boolean;
}

/** Something living in an arena block that can be moved out when the block is needed. */
export interface Tenant {
  /** copies the elements to ordinary memory and forgets the block */
  evict(): void;
}

/** A block of arena memory. */
export class Block {
  /** byte address */
  readonly ptr: number;
  /** bytes, a size class */
  readonly size: number;
  /** who lives here; undefined for scratch */
  tenant: Tenant | undefined;
  /** op epoch of the last use: blocks used in the current op are never evicted */
  lastUse = 0;
  /** epoch when the CLOCK hand last passed */
  stamp = 0;

  constructor(ptr: number, size: number) {
    this.ptr = ptr;
    this.size = size;
  }
}

/** Thrown when scratch does not fit in the memory; the backend then runs the TypeScript kernel. */
export class ArenaFullError extends RangeError {
  constructor(bytes: number) {
    super(`cpu kernels: out of WebAssembly memory (asked for ${bytes} bytes of scratch)`);
    this.name = "ArenaFullError";
  }
}

const PAGE = 65536;
const MAX_PAGES = 65536;
/** Grow in steps of at least this much: growing a shared memory costs a system call. */
const GROW_STEP = 16 * 1024 * 1024;

/** The size class of a request: 64-byte steps up to 256, then 4 classes per power of two. */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return Math.max(64, Math.ceil(bytes / 64) * 64);
  const step = 2 ** (Math.floor(Math.log2(bytes - 1)) - 2);
  return Math.ceil(bytes / step) * step;
}

/** The allocator over one WebAssembly memory. */
export class Arena {
  readonly memory: WebAssembly.Memory;
  readonly #base: number;
  readonly #limit: number;
  readonly #growable: boolean;
  #top: number;
  #epoch = 1;
  /** bytes in tenant blocks */
  #resident = 0;
  readonly #free = new Map<number, Block[]>();
  /** tenant blocks per size class, in CLOCK order */
  readonly #tenants = new Map<number, Set<Block>>();
  /** blocks of scratch that did not fit the stack, freed when the op ends */
  readonly #scratch: Block[] = [];
  /** the scratch stack: one block that each op's scratch is carved from, reset when the op ends */
  #stack: Block | undefined;
  #stackTop = 0;
  /** the most scratch an op asked for since the stack last grew */
  #stackNeed = 0;
  #buffer: ArrayBufferLike;
  #evictions = 0;

  constructor(memory: WebAssembly.Memory, options: ArenaOptions) {
    this.memory = memory;
    this.#base = options.base;
    this.#top = options.base;
    this.#limit = options.limit;
    this.#growable = options.growable;
    this.#buffer = memory.buffer;
  }

  /** The memory's current buffer (a shared memory's grows, and old views stay valid). */
  get buffer(): ArrayBufferLike {
    return this.#buffer;
  }

  /** The current op's epoch: blocks touched in it are pinned. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Starts a new op: earlier pins lapse. */
  beginOp(): void {
    this.#epoch++;
  }

  /**
   * Frees the scratch of the op that just ended. When an op needed more than
   * the stack holds, the stack grows now (between ops, when nothing points
   * into it), so the next such op carves all its scratch from it.
   */
  endOp(): void {
    for (const b of this.#scratch) this.#release(b);
    this.#scratch.length = 0;
    this.#stackTop = 0;
    if (this.#stackNeed > (this.#stack?.size ?? 0)) {
      if (this.#stack) this.#release(this.#stack);
      const size = sizeClass(this.#stackNeed + (this.#stackNeed >> 2));
      this.#stack = this.#fromFree(size) ?? this.#bump(size, true);
    }
    this.#stackNeed = 0;
  }

  /** Marks a block as used by the current op. */
  touch(block: Block): void {
    block.lastUse = this.#epoch;
  }

  /**
   * A block for `tenant` of at least `bytes`, or undefined when the arena is
   * full of blocks the current op uses (the caller keeps the storage in
   * ordinary memory then).
   */
  allocTenant(bytes: number, tenant: Tenant): Block | undefined {
    const size = sizeClass(bytes);
    const block = this.#fromFree(size) ?? this.#bump(size, false) ?? this.#evictFor(size);
    if (block === undefined) return undefined;
    block.tenant = tenant;
    block.lastUse = this.#epoch;
    block.stamp = this.#epoch;
    this.#resident += block.size;
    let set = this.#tenants.get(block.size);
    if (set === undefined) this.#tenants.set(block.size, set = new Set());
    set.add(block);
    return block;
  }

  /** Returns a tenant's block to its free list. */
  freeTenant(block: Block): void {
    this.#tenants.get(block.size)?.delete(block);
    this.#resident -= block.size;
    block.tenant = undefined;
    this.#release(block);
  }

  /**
   * Scratch for the current op, freed by endOp (or kept with `keep` for the
   * runtime's lifetime). Scratch may exceed the limit; it throws a RangeError
   * only when the memory cannot grow.
   */
  scratch(bytes: number, keep = false): number {
    if (!keep) {
      const aligned = Math.ceil(bytes / 64) * 64;
      const top = this.#stackTop + aligned;
      this.#stackNeed = Math.max(this.#stackNeed, top);
      if (this.#stack && top <= this.#stack.size) {
        this.#stackTop = top;
        return this.#stack.ptr + top - aligned;
      }
    }
    const size = sizeClass(bytes);
    const block = this.#fromFree(size) ?? this.#bump(size, true);
    if (block === undefined) throw new ArenaFullError(bytes);
    if (!keep) this.#scratch.push(block);
    return block.ptr;
  }

  /** Bytes held by storages, bytes the arena spans, and how many storages were moved out to make room. */
  stats(): { resident: number; span: number; evictions: number } {
    return { resident: this.#resident, span: this.#top - this.#base, evictions: this.#evictions };
  }

  #release(block: Block): void {
    let list = this.#free.get(block.size);
    if (list === undefined) this.#free.set(block.size, list = []);
    list.push(block);
  }

  #fromFree(size: number): Block | undefined {
    return this.#free.get(size)?.pop();
  }

  #bump(size: number, scratch: boolean): Block | undefined {
    const end = this.#top + size;
    // Storages may hold `limit` bytes, and the arena (with freed blocks of sizes no longer asked for) span
    // twice that; scratch goes on as far as the memory grows.
    if (!scratch && (this.#resident + size > this.#limit || end - this.#base > 2 * this.#limit)) return undefined;
    if (end > this.#buffer.byteLength && !this.#grow(end)) return undefined;
    const block = new Block(this.#top, size);
    this.#top = end;
    return block;
  }

  #grow(end: number): boolean {
    if (!this.#growable) return false;
    const have = this.memory.buffer.byteLength;
    const want = Math.min(MAX_PAGES * PAGE, Math.max(end, have + GROW_STEP));
    if (want < end) return false;
    try {
      this.memory.grow(Math.ceil((want - have) / PAGE));
    } catch {
      return false;
    }
    this.#buffer = this.memory.buffer;
    return true;
  }

  /** Moves out the least recently used tenant of this size class (CLOCK), and hands over its block. */
  #evictFor(size: number): Block | undefined {
    const set = this.#tenants.get(size);
    if (set === undefined) return undefined;
    for (let turns = 2 * set.size; turns > 0; turns--) {
      const block = set.values().next().value as Block | undefined;
      if (block === undefined) return undefined;
      set.delete(block);
      if (block.lastUse === this.#epoch || block.lastUse > block.stamp) {
        // In use now, or used since the hand last passed: a second chance.
        block.stamp = this.#epoch;
        set.add(block);
        continue;
      }
      this.#resident -= block.size;
      const tenant = block.tenant!;
      block.tenant = undefined;
      tenant.evict();
      this.#evictions++;
      return block;
    }
    return undefined;
  }
}
