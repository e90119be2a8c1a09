// The build context: a directory (or a tar on stdin, unpacked into a temporary one), filtered
// by its .dockerignore with Docker's rules (@balena/dockerignore ports them: patterns anchored
// at the root, `**`, `!` exceptions). COPY and ADD sources are found here: cleaned, matched
// with wildcards as Go's filepath.Match does, and never outside the context, neither through
// `..` nor through a symlink.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import dockerignore from "@balena/dockerignore";
import { invalidArgument, notFound } from "../errors.js";
import { applyLayer } from "../image/index.js";

export interface BuildContext {
  /** the context's root directory on the host */
  dir: string;
  /** whether a path (relative, with "/") is excluded by .dockerignore */
  ignored(rel: string): boolean;
  /** removes what was made for it (an unpacked tar) */
  close(): void;
}

/** Reads .dockerignore's lines as Docker does: comments and blank lines dropped, paths cleaned. */
export function ignorePatterns(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

export function ignoreMatcher(patterns: string[]): (rel: string) => boolean {
  const ig = dockerignore.default().add(patterns); // CommonJS: the factory is also its own .default
  return (rel: string) => rel !== "" && rel !== "." && ig.ignores(rel);
}

export function openContextDir(dir: string, temporary = false): BuildContext {
  const st = fs.statSync(dir, { throwIfNoEntry: false });
  if (!st?.isDirectory()) throw notFound(`build context ${dir}: not a directory`);
  let patterns: string[] = [];
  try {
    patterns = ignorePatterns(fs.readFileSync(path.join(dir, ".dockerignore"), "utf8"));
  } catch {
    // none
  }
  return { dir, ignored: ignoreMatcher(patterns), close: () => temporary && rmSync(dir, { recursive: true, force: true }) };
}

/** `-`: a tar stream (plain or gzip) unpacked into a temporary directory, no entry outside it. */
export async function openContextTar(tar: Readable): Promise<BuildContext> {
  const dir = mkdtempSync(path.join(tmpdir(), "berth-build-context-"));
  try {
    await applyLayer(dir, tar, { whiteouts: "none" });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw invalidArgument(`build context from stdin: ${(e as Error).message}`);
  }
  return openContextDir(dir, true);
}

/** Go's filepath.Match for one pattern component set: *, ?, [...] (with ^ or !), \ escapes. */
export function globRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "\\" && i + 1 < pattern.length) re += "\\" + pattern[++i];
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) throw invalidArgument(`pattern ${JSON.stringify(pattern)}: syntax error in pattern`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith("^") || cls.startsWith("!")) cls = "^" + cls.slice(1);
      re += `[${cls.replace(/\\/g, "\\\\")}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

export const hasWildcard = (p: string) => /[*?[]/.test(p);

/**
 * Where a relative path of a tree lies on the host, every symlink resolved inside `root`
 * (chroot semantics). With `confine`, a symlink or `..` that would leave `root` is refused
 * (the build context); without, it stops at the root (an image's file system).
 */
export function resolveInside(root: string, rel: string, what: string, confine: boolean): string {
  const stack: string[] = [];
  const todo = rel.split("/").reverse();
  let links = 0;
  while (todo.length) {
    const c = todo.pop()!;
    if (c === "" || c === ".") continue;
    if (c === "..") {
      if (stack.length === 0 && confine) throw invalidArgument(`${what}: forbidden path outside the build context`);
      stack.pop();
      continue;
    }
    const host = path.join(root, ...stack, c);
    const st = fs.lstatSync(host, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) {
      if (++links > 40) throw invalidArgument(`${what}: too many levels of symbolic links`);
      const target = fs.readlinkSync(host);
      if (target.startsWith("/")) {
        if (confine) throw invalidArgument(`${what}: forbidden path outside the build context (a symlink to ${target})`);
        stack.length = 0;
      }
      todo.push(...target.split("/").reverse());
      continue;
    }
    stack.push(c);
  }
  return path.join(root, ...stack);
}

export interface Source {
  /** the host path of the source (symlinks resolved when it was named directly) */
  host: string;
  /** its path relative to the source root, for messages and checksums */
  rel: string;
}

/**
 * A COPY/ADD source pattern in `root` (the context, or another stage's file system): the paths
 * it names. Wildcards match the names in each directory; nothing matching is an error.
 */
export function findSources(root: string, pattern: string, what: string, opts: { confine: boolean; ignored?: (rel: string) => boolean }): Source[] {
  const cleaned = path.posix.normalize("/" + pattern).slice(1);
  if (opts.confine && path.posix.normalize(pattern).split("/")[0] === "..") throw invalidArgument(`${what}: forbidden path outside the build context`);
  const ignored = opts.ignored ?? (() => false);
  if (!hasWildcard(cleaned)) {
    const host = resolveInside(root, cleaned, what, opts.confine);
    if (!fs.existsSync(host) || (cleaned !== "" && ignored(cleaned))) throw notFound(`${what}: no such file or directory in the ${opts.confine ? "build context" : "source"}`);
    return [{ host, rel: cleaned }];
  }
  // walk the components: literal ones are followed, wildcard ones matched against names
  let found: Source[] = [{ host: root, rel: "" }];
  for (const part of cleaned.split("/").filter(Boolean)) {
    const next: Source[] = [];
    for (const f of found) {
      const dir = resolveInside(root, f.rel, what, opts.confine);
      if (!hasWildcard(part)) {
        const rel = f.rel ? `${f.rel}/${part}` : part;
        if (fs.lstatSync(path.join(dir, part), { throwIfNoEntry: false })) next.push({ host: path.join(dir, part), rel });
        continue;
      }
      let names: string[] = [];
      try {
        names = fs.readdirSync(dir).sort();
      } catch {
        continue;
      }
      const re = globRegExp(part);
      for (const n of names) if (re.test(n)) next.push({ host: path.join(dir, n), rel: f.rel ? `${f.rel}/${n}` : n });
    }
    found = next;
  }
  const out = found.filter((s) => !ignored(s.rel)).map((s) => ({ host: resolveInside(root, s.rel, what, opts.confine), rel: s.rel }));
  if (out.length === 0) throw notFound(`${what}: no source files were specified (nothing matches)`);
  return out;
}

/**
 * A checksum of what a COPY would take: names, types, modes, owners, link targets and file
 * contents (not times: a touched file does not invalidate the cache, as in Docker).
 */
export function checksumSources(sources: Source[], ignored: (rel: string) => boolean): string {
  const h = createHash("sha256");
  const walk = (host: string, rel: string, name: string) => {
    const st = fs.lstatSync(host);
    h.update(`${name}\0${st.mode}\0${st.uid}:${st.gid}\0`);
    if (st.isSymbolicLink()) h.update(`L${fs.readlinkSync(host)}\0`);
    else if (st.isFile()) {
      h.update(`F${st.size}\0`);
      h.update(fs.readFileSync(host));
    } else if (st.isDirectory()) {
      for (const n of fs.readdirSync(host).sort()) {
        const r = rel ? `${rel}/${n}` : n;
        if (ignored(r)) continue;
        walk(path.join(host, n), r, `${name}/${n}`);
      }
    }
  };
  for (const s of sources) walk(s.host, s.rel, s.rel);
  return h.digest("hex");
}
