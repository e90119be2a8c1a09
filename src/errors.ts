// One error type for all of berth, with a stable kind (as containerd's errdefs).
// The CLI maps kinds to exit codes; the library throws and never prints.

export type ErrorKind =
  | "NotFound"
  | "AlreadyExists"
  | "InvalidArgument"
  | "FailedPrecondition"
  | "Conflict"
  | "Unavailable"
  | "Internal";

export class BerthError extends Error {
  readonly kind: ErrorKind;
  readonly hint?: string;

  constructor(kind: ErrorKind, message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = "BerthError";
    this.kind = kind;
    this.hint = options?.hint;
  }
}

export const notFound = (message: string, hint?: string) => new BerthError("NotFound", message, { hint });
export const alreadyExists = (message: string, hint?: string) => new BerthError("AlreadyExists", message, { hint });
export const invalidArgument = (message: string, hint?: string) => new BerthError("InvalidArgument", message, { hint });
export const failedPrecondition = (message: string, hint?: string) =>
  new BerthError("FailedPrecondition", message, { hint });
export const conflict = (message: string, hint?: string) => new BerthError("Conflict", message, { hint });
export const unavailable = (message: string, hint?: string) => new BerthError("Unavailable", message, { hint });
export const internal = (message: string, cause?: unknown) => new BerthError("Internal", message, { cause });
