// Errors a backend raises that callers may want to tell apart by type.

/**
 * A backend could not do what was asked for a reason outside the caller's
 * inputs: the device was lost, memory ran out, a limit was exceeded. The
 * message says what happened and what to do.
 */
export class BackendError extends Error {
  /** the backend that failed, e.g. "webgpu" */
  readonly backend: string;
  /** Creates an error naming the backend. */
  constructor(backend: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BackendError";
    this.backend = backend;
  }
}
