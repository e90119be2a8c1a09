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

export class PullProgress {
  private readonly lines: Lines;
  private readonly last = new Map<string, string>();

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly mode: ProgressMode,
  ) {
    this.lines = new Lines(out, mode);
  }

  event = (e: PullEvent): void => {
    if (this.mode === "quiet") return;
    if (this.mode === "json") {
      this.out.write(JSON.stringify(e) + "\n");
      return;
    }
    if (e.type === "resolved") {
      const at = e.ref.lastIndexOf("@") > 0 ? e.ref.slice(e.ref.lastIndexOf("@") + 1) : e.ref.slice(e.ref.lastIndexOf(":") + 1);
      const repo = e.ref.slice(0, e.ref.length - at.length - 1);
      this.out.write(`${at}: Pulling from ${repo}${e.platform ? ` (${e.platform})` : ""}\n`);
      return;
    }
    if (e.type === "layer") {
      const changed = this.last.get(e.digest) !== e.status;
      this.last.set(e.digest, e.status);
      let line = PULL_WORDS[e.status] ?? e.status;
      if (e.status === "downloading" && e.total) line += `  ${humanSize(e.current ?? 0)}/${humanSize(e.total)}${this.lines.rate(e.digest, e.current ?? 0)}`;
      if (e.status === "retrying" && e.message) line += `: ${e.message}`;
      if (e.status === "downloading" && this.mode === "plain") return; // bytes are for terminals
      this.lines.set(e.digest, line, changed);
      return;
    }
    this.out.write(`Digest: ${e.digest}\n`);
    this.out.write(`Status: ${e.upToDate ? "Image is up to date for" : "Downloaded newer image for"} ${e.ref}\n`);
  };
}

export class PushProgress {
  private readonly lines: Lines;
  private readonly last = new Map<string, string>();

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly mode: ProgressMode,
  ) {
    this.lines = new Lines(out, mode);
  }

  event = (e: PushEvent): void => {
    if (this.mode === "quiet") return;
    if (this.mode === "json") {
      this.out.write(JSON.stringify(e) + "\n");
      return;
    }
    if (e.type === "preparing") {
      this.out.write(`The push refers to repository [${e.repository}]\n`);
      return;
    }
    if (e.type === "layer") {
      const changed = this.last.get(e.digest) !== e.status;
      this.last.set(e.digest, e.status);
      let line = PUSH_WORDS[e.status] ?? e.status;
      if (e.status === "mounted") line += ` ${e.from}`;
      if (e.status === "uploading" && e.total) line += `  ${humanSize(e.current ?? 0)}/${humanSize(e.total)}${this.lines.rate(e.digest, e.current ?? 0)}`;
      if (e.status === "retrying" && e.message) line += `: ${e.message}`;
      if (e.status === "uploading" && this.mode === "plain") return;
      this.lines.set(e.digest, line, changed);
      return;
    }
    this.out.write(`${e.tag ?? e.ref.slice(e.ref.indexOf("@") + 1)}: digest: ${e.digest} size: ${e.size}\n`);
  };
}
