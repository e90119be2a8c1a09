// The caller's stdio in the warm service: streams over the fds berth's front-end passed
// (SCM_RIGHTS). Each is ours to close, once: after the write in flight, never while one runs
// in libuv's pool (a closed fd's number is soon another file's).
import * as fs from "node:fs";
import { Writable } from "node:stream";
import tty from "node:tty";

/** Output to one of the caller's fds, in order; dropped once released or when nobody reads. */
export class CallerOutput extends Writable {
  readonly isTTY: boolean;
  private fd: number | undefined;
  private busy = false;
  private releasing = false;

  constructor(fd: number) {
    super();
    this.fd = fd;
    this.isTTY = tty.isatty(fd);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    const fd = this.fd;
    if (fd === undefined || this.releasing) return done();
    this.busy = true;
    let off = 0;
    const finish = () => {
      this.busy = false;
      if (this.releasing) this.closeFd();
      done();
    };
    const step = (): void => {
      fs.write(fd, chunk, off, chunk.length - off, null, (err, n) => {
        // an fd the caller made non-blocking: wait for room, as its own write would
        if (err?.code === "EAGAIN") return void setTimeout(step, 2);
        // a reader that went away (EPIPE) is the caller's business, as for Node's own stdout
        if (err || (off += n) >= chunk.length) return finish();
        step();
      });
    };
    step();
  }

  /** Ends the output: resolves once everything written has reached the fd, which is then closed. */
  finish(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.release();
        resolve();
      };
      if (this.writableFinished || this.destroyed) return done();
      this.once("error", done);
      this.end(done);
    });
  }

  /** Closes our copy of the fd (after the write in flight); later output is dropped. */
  release(): void {
    this.releasing = true;
    if (!this.busy) this.closeFd();
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      // gone already
    }
    this.fd = undefined;
  }
}

/** The caller's stdin: opened as a stream only when a command reads it (load, import). */
export class CallerInput {
  readonly isTTY: boolean;
  private stream: (fs.ReadStream & { isTTY?: boolean }) | undefined;
  private released = false;

  constructor(private readonly fd: number) {
    this.isTTY = tty.isatty(fd);
  }

  open(): NodeJS.ReadableStream {
    if (!this.stream) {
      // the stream closes the fd itself, after any read in flight
      this.stream = fs.createReadStream("", { fd: this.fd, autoClose: true });
      this.stream.isTTY = this.isTTY;
      this.stream.on("error", () => undefined);
    }
    return this.stream;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.stream) {
      this.stream.destroy();
    } else {
      try {
        fs.closeSync(this.fd);
      } catch {
        // gone already
      }
    }
  }
}
