// A Dockerfile read into instructions: dockerfile-ast (the Docker language server's parser)
// finds the parser directives, the escape character, each instruction's keyword, lines, flags
// and heredocs; here the arguments are joined across continuations (comment lines inside a
// continuation dropped, as Docker does) and checked, so a mistake is one line naming the file
// and the line.
import { DockerfileParser } from "dockerfile-ast";
import { invalidArgument } from "../errors.js";

export interface Heredoc {
  name: string;
  /** the body, lines joined with "\n" and ending with one (tabs removed for <<-) */
  body: string;
  /** an unquoted delimiter: the body is expanded (variables) */
  expand: boolean;
}

export interface Instruction {
  /** upper case: RUN, COPY, … */
  keyword: string;
  /** 1-based line of the keyword */
  line: number;
  /** `--name=value` flags before the arguments; a bare `--link` has value "" */
  flags: { name: string; value: string }[];
  /** the arguments, continuations joined, variables not yet expanded; heredoc bodies left out */
  args: string;
  /** the exec (JSON) form, when the arguments are a JSON array of strings */
  json?: string[];
  heredocs: Heredoc[];
  /** the whole instruction text on one line, as history and errors show it */
  text: string;
}

export interface Dockerfile {
  file: string;
  escape: string;
  directives: Record<string, string>;
  instructions: Instruction[];
}

export const KEYWORDS = new Set([
  "FROM", "RUN", "CMD", "ENTRYPOINT", "ENV", "ARG", "LABEL", "EXPOSE", "VOLUME", "WORKDIR", "USER", "COPY", "ADD",
  "SHELL", "STOPSIGNAL", "HEALTHCHECK", "ONBUILD", "MAINTAINER",
]);

/** Instructions that take `--flags` before their arguments, and which flags. */
const FLAGS: Record<string, string[]> = {
  FROM: ["platform"],
  RUN: ["network", "mount"],
  COPY: ["from", "chown", "chmod", "link"],
  ADD: ["chown", "chmod", "link", "checksum"],
  HEALTHCHECK: ["interval", "timeout", "start-period", "start-interval", "retries"],
};

export function syntaxError(file: string, line: number, message: string) {
  return invalidArgument(`${file}:${line}: ${message}`);
}

/** Joins continuation lines: `escape` at a line's end (trailing blanks allowed) joins the next; comment and blank lines inside are dropped. */
export function joinContinuations(text: string, escape: string): string {
  const lines = text.split("\n");
  let out = "";
  let continuing = false;
  for (const line of lines) {
    if (continuing && (/^\s*#/.test(line) || line.trim() === "")) continue;
    const m = new RegExp(`${escape === "`" ? "`" : "\\\\"}\\s*$`).exec(line);
    if (m) {
      out += line.slice(0, m.index);
      continuing = true;
    } else {
      out += line + "\n";
      continuing = false;
    }
  }
  return out.replace(/\n$/, "");
}

/** The exec form: a JSON array of strings, else undefined (Docker then takes the shell form). */
export function jsonForm(args: string): string[] | undefined {
  const t = args.trim();
  if (!t.startsWith("[")) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
  } catch {
    // not JSON: the shell form
  }
  return undefined;
}

export function parseDockerfile(text: string, file = "Dockerfile"): Dockerfile {
  const doc = DockerfileParser.parse(text);
  const escape = doc.getEscapeCharacter();
  const directives: Record<string, string> = {};
  for (const d of doc.getDirectives()) directives[d.getName().toLowerCase()] = d.getValue();
  const src = text.split(/\r?\n/);
  const instructions: Instruction[] = [];
  for (const i of doc.getInstructions()) {
    const keyword = i.getKeyword().toUpperCase();
    const range = i.getRange();
    const line = range.start.line + 1;
    if (!KEYWORDS.has(keyword)) throw syntaxError(file, line, `unknown instruction: ${i.getKeyword()}`);
    const allowed = FLAGS[keyword] ?? [];
    const flags: { name: string; value: string }[] = [];
    const getFlags = (i as unknown as { getFlags?: () => { getName(): string; getValue(): string | null }[] }).getFlags;
    for (const f of getFlags ? getFlags.call(i) : []) {
      if (!allowed.includes(f.getName())) throw syntaxError(file, line, `${keyword}: unknown flag: --${f.getName()}`);
      flags.push({ name: f.getName(), value: f.getValue() ?? "" });
    }
    // heredoc bodies: the lines the parser found for each, taken from the source as written
    const heredocs: Heredoc[] = [];
    let firstBody = range.end.line + 1;
    for (const h of (i as unknown as { getHeredocs(): { getName(): string }[] }).getHeredocs()) {
      const content = (h as unknown as { getContentRange(): { start: { line: number }; end: { line: number } } | null }).getContentRange();
      const name = h.getName();
      // <<-NAME strips leading tabs; a quoted "NAME" or 'NAME' leaves the body unexpanded
      const header = src.slice(range.start.line, content ? content.start.line : range.start.line + 1).join("\n");
      const marker = new RegExp(`<<(-?)(["']?)${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\2`).exec(header);
      const chomp = marker?.[1] === "-";
      let lines: string[] = [];
      if (content) {
        lines = src.slice(content.start.line, content.end.line + 1);
        firstBody = Math.min(firstBody, content.start.line);
      } else {
        firstBody = Math.min(firstBody, range.start.line + 1);
      }
      // the closing delimiter must be there
      const closing = src.slice(range.start.line + 1, range.end.line + 1).some((l) => (chomp ? l.replace(/^\t+/, "") : l) === name);
      if (!closing) throw syntaxError(file, line, `${keyword}: heredoc <<${name} is not closed by a line "${name}"`);
      if (chomp) lines = lines.map((l) => l.replace(/^\t+/, ""));
      heredocs.push({ name, body: lines.length ? lines.join("\n") + "\n" : "", expand: !marker?.[2] });
    }
    let raw = i.getRawArgumentsContent() ?? "";
    if (heredocs.length) {
      // the arguments are what stands on the instruction's own lines, before the first body
      const rawLines = raw.split("\n");
      const headerLines = Math.max(1, firstBody - range.start.line);
      raw = rawLines.slice(0, headerLines).join("\n");
    }
    const args = joinContinuations(raw, escape).replace(/\s+$/, "");
    if (args.trim() === "" && keyword !== "FROM") throw syntaxError(file, line, `${keyword} requires at least one argument`);
    if (keyword === "FROM" && args.trim() === "") throw syntaxError(file, line, "FROM requires the name of an image (or scratch)");
    const flagText = flags.map((f) => `--${f.name}${f.value !== "" ? "=" + f.value : ""} `).join("");
    instructions.push({
      keyword,
      line,
      flags,
      args: args.trim(),
      json: heredocs.length ? undefined : jsonForm(args),
      heredocs,
      text: `${keyword} ${flagText}${args.trim()}`,
    });
  }
  return { file, escape, directives, instructions };
}

/** The value of a flag given once (the last one wins, as Docker's flag parser does). */
export function flag(i: Instruction, name: string): string | undefined {
  let v: string | undefined;
  for (const f of i.flags) if (f.name === name) v = f.value;
  return v;
}
