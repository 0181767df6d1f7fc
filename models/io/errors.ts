// The two errors a weights file can raise: what is wrong with the bytes
// (`WeightsFormatError`), and what a pickle asked for that weights_only
// refuses (`UnpicklingError`). Both say where: the entry, key or offset.

/** What kind of problem a {@linkcode WeightsFormatError} reports. */
export type WeightsErrorKind =
  /** the bytes end before a structure does */
  | "truncated"
  /** a magic number, signature or header field is wrong */
  | "corrupt"
  /** a CRC-32 or sha256 does not match */
  | "checksum"
  /** a size, count, depth or decompressed length is past a cap */
  | "limit"
  /** a well-formed file Flint does not read (TorchScript, legacy, complex, sparse, ...) */
  | "unsupported"
  /** the pickle asked for something weights_only does not allow */
  | "pickle"
  /** the state dict to save is not one (keys, values) */
  | "invalid";

/** Where in the file the problem is. */
export interface WeightsErrorLocation {
  /** the zip entry, e.g. `archive/data/0` */
  entry?: string;
  /** the state-dict key, e.g. `conv1.weight` */
  key?: string;
  /** a byte offset in the file (or in the entry, when `entry` is set) */
  offset?: number;
}

/**
 * A weights file that cannot be read or a state dict that cannot be written,
 * with `kind` saying what sort of problem and the message saying what and
 * where.
 *
 * @example
 * ```ts
 * import { load, WeightsFormatError } from "@flint/models";
 *
 * try {
 *   await load(new Uint8Array([1, 2, 3]));
 * } catch (e) {
 *   console.log(e instanceof WeightsFormatError, (e as WeightsFormatError).kind); // true unsupported
 * }
 * ```
 */
export class WeightsFormatError extends Error {
  /** what sort of problem */
  readonly kind: WeightsErrorKind;
  /** the zip entry concerned, if any */
  readonly entry?: string;
  /** the state-dict key concerned, if any */
  readonly key?: string;
  /** the byte offset concerned, if any */
  readonly offset?: number;

  /** Makes the error; `where` is folded into the message. */
  constructor(kind: WeightsErrorKind, message: string, where: WeightsErrorLocation = {}, options?: ErrorOptions) {
    const parts: string[] = [];
    if (where.entry !== undefined) parts.push(`entry '${where.entry}'`);
    if (where.key !== undefined) parts.push(`key '${where.key}'`);
    if (where.offset !== undefined) parts.push(`offset ${where.offset}`);
    super(parts.length > 0 ? `${message} (at ${parts.join(", ")})` : message, options);
    this.name = "WeightsFormatError";
    this.kind = kind;
    if (where.entry !== undefined) this.entry = where.entry;
    if (where.key !== undefined) this.key = where.key;
    if (where.offset !== undefined) this.offset = where.offset;
  }
}

/**
 * A pickle that weights_only refuses: a global outside the allow-list
 * (`.global` is its dotted name), an opcode outside it (`.opcode`), or a call,
 * build or append weights_only does not allow. Nothing in the pickle has run.
 *
 * @example
 * ```ts
 * import { UnpicklingError, unpickle } from "@flint/models";
 *
 * // protocol 2: GLOBAL 'os system', the string 'echo hi', TUPLE1, REDUCE, STOP
 * const evil = new Uint8Array([0x80, 2, ...new TextEncoder().encode("cos\nsystem\nX\x07\0\0\0echo hi\x85R.")]);
 * try {
 *   unpickle(evil);
 * } catch (e) {
 *   console.log((e as UnpicklingError).global); // os.system
 * }
 * ```
 */
export class UnpicklingError extends WeightsFormatError {
  /** the refused global, as `module.name` */
  readonly global?: string;
  /** the refused opcode's name, e.g. `INST` */
  readonly opcode?: string;

  /** Makes the error. */
  constructor(
    message: string,
    details: { global?: string; opcode?: string; offset?: number; entry?: string } = {},
  ) {
    super("pickle", message, { offset: details.offset, entry: details.entry });
    this.name = "UnpicklingError";
    if (details.global !== undefined) this.global = details.global;
    if (details.opcode !== undefined) this.opcode = details.opcode;
  }
}
