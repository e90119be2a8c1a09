// Pull and push progress as docker shows it: on a terminal one line per layer, redrawn in
// place (waiting, downloading with bytes/total and rate, verifying, extracting, done); when
// piped, a plain line per change of state; with --format json, the events themselves.
import { shortId, type PullEvent, type PushEvent } from "../../registry/client/index.js";
import { humanSize } from "../render.js";

export type ProgressMode = "tty" | "plain" | "json" | "quiet";

export function progressMode(out: NodeJS.WritableStream, format: string | undefined, quiet: boolean | undefined): ProgressMode {
  if (quiet) return "quiet";
  if (format === "json") return "json";
  return (out as { isTTY?: boolean }).isTTY ? "tty" : "plain";
}

const PULL_WORDS: Record<string, string> = {
  waiting: "Pulling fs layer",
  exists: "Already exists",
  downloading: "Downloading",
  retrying: "Retrying",
  verifying: "Verifying Checksum",
  downloaded: "Download complete",
  extracting: "Extracting",
  done: "Pull complete",
};

const PUSH_WORDS: Record<string, string> = {
  waiting: "Preparing",
  exists: "Layer already exists",
  mounted: "Mounted from",
  uploading: "Pushing",
  retrying: "Retrying",
  pushed: "Pushed",
};

/** Layer lines: redrawn in place on a terminal, appended otherwise. */
class Lines {
  private readonly ids: string[] = [];
  private readonly text = new Map<string, string>();
  private readonly started = new Map<string, { t: number; bytes: number }>();

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly mode: ProgressMode,
  ) {}

  /** Rate since the layer started moving bytes, as docker's bar shows it. */
  rate(id: string, current: number): string {
    const s = this.started.get(id);
    if (!s) {
      this.started.set(id, { t: Date.now(), bytes: current });
      return "";
    }
    const secs = (Date.now() - s.t) / 1000;
    return secs > 0.2 ? `  ${humanSize((current - s.bytes) / secs)}/s` : "";
  }

  set(id: string, line: string, changed: boolean): void {
    if (this.mode === "plain") {
      if (changed) this.out.write(`${shortId(id)}: ${line}\n`);
      return;
    }
    if (this.mode !== "tty") return;
    const full = `${shortId(id)}: ${line}`;
    let i = this.ids.indexOf(id);
    if (i < 0) {
      this.ids.push(id);
      this.text.set(id, full);
      this.out.write(`${full}\n`);
      return;
    }
    if (this.text.get(id) === full) return;
    this.text.set(id, full);
    const up = this.ids.length - i;
    this.out.write(`\x1b[${up}A\r\x1b[2K${full}\r\x1b[${up}B`);
  }
}

/** A layer event's line: the status's word, the bytes and rate while they move, a retry's reason. */
function layerLine(words: Record<string, string>, moving: string, e: { digest: string; status: string; current?: number; total?: number; message?: string; from?: string }, lines: Lines): string {
  let line = words[e.status] ?? e.status;
  if (e.status === "mounted") line += ` ${e.from}`;
  if (e.status === moving && e.total) line += `  ${humanSize(e.current ?? 0)}/${humanSize(e.total)}${lines.rate(e.digest, e.current ?? 0)}`;
  if (e.status === "retrying" && e.message) line += `: ${e.message}`;
  return line;
}

/** Renders one operation's events: a line per layer (`moving` is the status that moves bytes), the rest by `other`. */
class Progress<E extends { type: string }> {
  private readonly lines: Lines;
  private readonly last = new Map<string, string>();

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly mode: ProgressMode,
    private readonly words: Record<string, string>,
    private readonly moving: string,
    private readonly other: (e: E, out: NodeJS.WritableStream) => void,
  ) {
    this.lines = new Lines(out, mode);
  }

  event = (e: E): void => {
    if (this.mode === "quiet") return;
    if (this.mode === "json") {
      this.out.write(JSON.stringify(e) + "\n");
      return;
    }
    if (e.type !== "layer") return this.other(e, this.out);
    const l = e as unknown as { digest: string; status: string };
    const changed = this.last.get(l.digest) !== l.status;
    this.last.set(l.digest, l.status);
    if (l.status === this.moving && this.mode === "plain") return; // bytes are for terminals
    this.lines.set(l.digest, layerLine(this.words, this.moving, l, this.lines), changed);
  };
}

export class PullProgress extends Progress<PullEvent> {
  constructor(out: NodeJS.WritableStream, mode: ProgressMode) {
    super(out, mode, PULL_WORDS, "downloading", (e, o) => {
      if (e.type === "resolved") {
        const at = e.ref.lastIndexOf("@") > 0 ? e.ref.slice(e.ref.lastIndexOf("@") + 1) : e.ref.slice(e.ref.lastIndexOf(":") + 1);
        const repo = e.ref.slice(0, e.ref.length - at.length - 1);
        o.write(`${at}: Pulling from ${repo}${e.platform ? ` (${e.platform})` : ""}\n`);
      } else if (e.type === "pulled") {
        o.write(`Digest: ${e.digest}\n`);
        o.write(`Status: ${e.upToDate ? "Image is up to date for" : "Downloaded newer image for"} ${e.ref}\n`);
      }
    });
  }
}

export class PushProgress extends Progress<PushEvent> {
  constructor(out: NodeJS.WritableStream, mode: ProgressMode) {
    super(out, mode, PUSH_WORDS, "uploading", (e, o) => {
      if (e.type === "preparing") o.write(`The push refers to repository [${e.repository}]\n`);
      else if (e.type === "pushed") o.write(`${e.tag ?? e.ref.slice(e.ref.indexOf("@") + 1)}: digest: ${e.digest} size: ${e.size}\n`);
    });
  }
}
