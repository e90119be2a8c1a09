// Reading and writing cgroup pseudo-files. Writes never create files (O_WRONLY
// without O_CREAT), so a missing knob is reported instead of silently written,
// and each value is one write(2), as the kernel expects.
import * as fs from "node:fs";
import * as path from "node:path";
import { BerthError, failedPrecondition, invalidArgument, unavailable } from "../errors.js";

/** Called after every successful write, with the absolute file and the value. */
export type CgroupTrace = (file: string, value: string) => void;

export class CgroupFiles {
  constructor(private readonly trace?: CgroupTrace) {}

  exists(dir: string, file: string): boolean {
    return fs.existsSync(path.join(dir, file));
  }

  /** The file's content without surrounding whitespace; a BerthError if it cannot be read. */
  read(dir: string, file: string): string {
    const full = path.join(dir, file);
    try {
      return fs.readFileSync(full, "utf8").trim();
    } catch (err) {
      throw fileError(err, `reading ${full}`);
    }
  }

  readIfExists(dir: string, file: string): string | undefined {
    try {
      return fs.readFileSync(path.join(dir, file), "utf8").trim();
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return undefined;
      throw fileError(err, `reading ${path.join(dir, file)}`);
    }
  }

  /** Write value to dir/file; `setting` names the config field for error messages. */
  write(dir: string, file: string, value: string, setting: string): void {
    const full = path.join(dir, file);
    let fd: number | undefined;
    try {
      fd = fs.openSync(full, fs.constants.O_WRONLY | fs.constants.O_TRUNC);
      fs.writeSync(fd, value);
    } catch (err) {
      throw writeError(err, full, value, setting);
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    this.trace?.(full, value);
  }
}

export function errnoCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String((err as { code: unknown }).code) : undefined;
}

function writeError(err: unknown, file: string, value: string, setting: string): BerthError {
  switch (errnoCode(err)) {
    case "ENOENT":
      return unavailable(
        `${setting}: ${file} does not exist (the kernel or this cgroup does not support the setting)`,
      );
    case "EINVAL":
    case "ERANGE":
    case "EOVERFLOW":
      return invalidArgument(`${setting}: the kernel rejected ${JSON.stringify(value)} for ${file}`);
    case "EBUSY":
      return failedPrecondition(`${setting}: the kernel refused ${JSON.stringify(value)} for ${file} (device or resource busy)`);
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return unavailable(`${setting}: permission denied writing ${file}`, "cgroup settings need root or a delegated cgroup");
    default:
      return new BerthError("Internal", `${setting}: writing ${JSON.stringify(value)} to ${file}: ${String(err)}`, {
        cause: err,
      });
  }
}

export function fileError(err: unknown, what: string): BerthError {
  const code = errnoCode(err);
  if (code === "ENOENT") return unavailable(`${what}: no such file`);
  if (code === "EACCES" || code === "EPERM") return unavailable(`${what}: permission denied`);
  return new BerthError("Internal", `${what}: ${String(err)}`, { cause: err });
}

/** An integer config value as the kernel wants it (never "1e+21"); invalidArgument otherwise. */
export function int(setting: string, value: number): string {
  if (!Number.isInteger(value)) throw invalidArgument(`${setting} must be an integer, got ${value}`);
  return BigInt(value).toString();
}

/** Parse a counter; "max" and v1's page-rounded 2^63-1 (anything past 2^53) read as -1, unlimited. */
export function parseLimit(text: string | undefined): number {
  if (text === undefined || text === "") return 0;
  if (text === "max") return -1;
  const n = BigInt(text);
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(n);
}

/** The value of `key` in a flat-keyed file such as cpu.stat or cgroup.events. */
export function keyedValue(text: string | undefined, key: string): number | undefined {
  for (const line of (text ?? "").split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k === key && v !== undefined) return Number(v);
  }
  return undefined;
}

/** Sleep without yielding to the event loop: the manager's API is synchronous. */
export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
