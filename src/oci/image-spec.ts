// OCI image-spec documents (manifest.md, image-index.md, config.md, descriptor.md) and their
// Docker schema2 twins, with parsers that check what berth relies on and report the first
// problem as one line:  manifest sha256:ab…: layers[2].digest: expected algorithm:hex, got "xyz"
// Unknown properties are kept, as the spec requires implementations to ignore them.

import { arch, endianness, platform as osPlatform } from "node:os";
import { invalidArgument } from "../errors.js";
import { DIGEST_GRAMMAR, parseDigest } from "./digest.js";

export const MediaType = {
  OCI_INDEX: "application/vnd.oci.image.index.v1+json",
  OCI_MANIFEST: "application/vnd.oci.image.manifest.v1+json",
  OCI_CONFIG: "application/vnd.oci.image.config.v1+json",
  OCI_LAYER: "application/vnd.oci.image.layer.v1.tar",
  OCI_LAYER_GZIP: "application/vnd.oci.image.layer.v1.tar+gzip",
  OCI_LAYER_ZSTD: "application/vnd.oci.image.layer.v1.tar+zstd",
  OCI_LAYER_NONDIST: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  OCI_LAYER_NONDIST_GZIP: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  OCI_EMPTY: "application/vnd.oci.empty.v1+json",
  DOCKER_MANIFEST_LIST: "application/vnd.docker.distribution.manifest.list.v2+json",
  DOCKER_MANIFEST: "application/vnd.docker.distribution.manifest.v2+json",
  DOCKER_CONFIG: "application/vnd.docker.container.image.v1+json",
  DOCKER_LAYER_GZIP: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  DOCKER_FOREIGN_LAYER_GZIP: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  DOCKER_MANIFEST_V1: "application/vnd.docker.distribution.manifest.v1+json",
  DOCKER_MANIFEST_V1_SIGNED: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

export interface Platform {
  architecture: string;
  os: string;
  "os.version"?: string;
  "os.features"?: string[];
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
  data?: string;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** The runtime defaults an image carries, with Docker's field names (config.md). */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  /** Durations are in nanoseconds, as Docker writes them. */
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  OnBuild?: string[];
  Shell?: string[];
}

export interface History {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  "os.version"?: string;
  variant?: string;
  config?: ContainerConfig;
  rootfs: { type: "layers"; diff_ids: string[] };
  history?: History[];
}

// ---- checking helpers ----------------------------------------------------------------

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "an array";
  if (isObject(v)) return "an object";
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

/** Checks one field; the path reads like the JSON (`layers[2].digest`). */
class Checker {
  constructor(readonly what: string) {}

  fail(path: string, expected: string, got: unknown): never {
    throw invalidArgument(`${this.what}: ${path}: expected ${expected}, got ${show(got)}`);
  }

  object(v: unknown, path: string): Json {
    return isObject(v) ? v : this.fail(path, "an object", v);
  }

  string(v: unknown, path: string, optional = true): void {
    if (v === undefined && optional) return;
    if (typeof v !== "string") this.fail(path, "a string", v);
  }

  strings(v: unknown, path: string): void {
    if (v === undefined) return;
    if (!Array.isArray(v)) this.fail(path, "an array of strings", v);
    v.forEach((s, i) => this.string(s, `${path}[${i}]`, false));
  }

  stringMap(v: unknown, path: string): void {
    if (v === undefined) return;
    for (const [k, s] of Object.entries(this.object(v, path))) this.string(s, `${path}[${JSON.stringify(k)}]`, false);
  }

  integer(v: unknown, path: string, optional = true): void {
    if (v === undefined && optional) return;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) this.fail(path, "a non-negative integer", v);
  }

  /** Any grammatical digest; registered algorithms must also have the right hex. */
  digest(v: unknown, path: string): void {
    if (typeof v !== "string" || !DIGEST_GRAMMAR.test(v)) this.fail(path, "algorithm:hex", v);
    if (v.startsWith("sha256:") || v.startsWith("sha512:")) parseDigest(v, `${this.what}: ${path}`);
  }

  platform(v: unknown, path: string): void {
    const p = this.object(v, path);
    this.string(p.architecture, `${path}.architecture`, false);
    this.string(p.os, `${path}.os`, false);
    this.string(p["os.version"], `${path}.os.version`);
    this.strings(p["os.features"], `${path}.os.features`);
    this.string(p.variant, `${path}.variant`);
  }

  descriptor(v: unknown, path: string): void {
    const d = this.object(v, path);
    this.string(d.mediaType, `${path}.mediaType`, false);
    this.digest(d.digest, `${path}.digest`);
    this.integer(d.size, `${path}.size`, false);
    this.strings(d.urls, `${path}.urls`);
    this.stringMap(d.annotations, `${path}.annotations`);
    if (d.platform !== undefined) this.platform(d.platform, `${path}.platform`);
    this.string(d.artifactType, `${path}.artifactType`);
    this.string(d.data, `${path}.data`);
  }

  descriptors(v: unknown, path: string): void {
    if (!Array.isArray(v)) this.fail(path, "an array of descriptors", v);
    v.forEach((d, i) => this.descriptor(d, `${path}[${i}]`));
  }
}

function parseJson(data: Buffer | string, what: string): Json {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof data === "string" ? data : data.toString("utf8"));
  } catch (e) {
    throw invalidArgument(`${what}: not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw invalidArgument(`${what}: expected a JSON object, got ${show(doc)}`);
  return doc;
}

const SCHEMA1 = new Set<string>([MediaType.DOCKER_MANIFEST_V1, MediaType.DOCKER_MANIFEST_V1_SIGNED]);
const INDEX_TYPES = new Set<string>([MediaType.OCI_INDEX, MediaType.DOCKER_MANIFEST_LIST]);
const MANIFEST_TYPES = new Set<string>([MediaType.OCI_MANIFEST, MediaType.DOCKER_MANIFEST]);

function refuseSchema1(what: string): never {
  throw invalidArgument(
    `${what}: schema1 manifests are not supported: this image was pushed by a client older than Docker 1.10; re-push with a newer client`,
  );
}

/** Checks what index and manifest share: schemaVersion 2, the mediaType, subject, annotations. */
function checkTop(doc: Json, c: Checker, allowed: Set<string>): void {
  if (doc.schemaVersion === 1 || (typeof doc.mediaType === "string" && SCHEMA1.has(doc.mediaType))) refuseSchema1(c.what);
  if (doc.schemaVersion !== 2) c.fail("schemaVersion", "2", doc.schemaVersion);
  if (doc.mediaType !== undefined && !(typeof doc.mediaType === "string" && allowed.has(doc.mediaType))) {
    c.fail("mediaType", [...allowed].join(" or "), doc.mediaType);
  }
  c.string(doc.artifactType, "artifactType");
  if (doc.subject !== undefined) c.descriptor(doc.subject, "subject");
  c.stringMap(doc.annotations, "annotations");
}

function checkIndex(doc: Json, c: Checker): ImageIndex {
  checkTop(doc, c, INDEX_TYPES);
  c.descriptors(doc.manifests, "manifests");
  return doc as unknown as ImageIndex;
}

function checkManifest(doc: Json, c: Checker): ImageManifest {
  checkTop(doc, c, MANIFEST_TYPES);
  if (doc.config === undefined) c.fail("config", "a descriptor", undefined);
  c.descriptor(doc.config, "config");
  c.descriptors(doc.layers, "layers");
  return doc as unknown as ImageManifest;
}

/** An image index or Docker manifest list; `what` names it in errors ("manifest sha256:…"). */
export function parseIndex(data: Buffer | string, what: string): ImageIndex {
  return checkIndex(parseJson(data, what), new Checker(what));
}

/** An image manifest (OCI or Docker schema2). */
export function parseManifest(data: Buffer | string, what: string): ImageManifest {
  return checkManifest(parseJson(data, what), new Checker(what));
}

/**
 * A document fetched by reference, which may be either. Its own mediaType decides, then the
 * hint (the descriptor's mediaType or Content-Type), then its shape; a document whose own
 * mediaType contradicts the hint is refused, since the digest was computed over a different kind.
 */
export function parseManifestOrIndex(
  data: Buffer | string,
  what: string,
  mediaTypeHint?: string,
): { kind: "index"; index: ImageIndex } | { kind: "manifest"; manifest: ImageManifest } {
  const doc = parseJson(data, what);
  const c: Checker = new Checker(what);
  const hint = mediaTypeHint?.split(";")[0]!.trim();
  if (doc.schemaVersion === 1 || (hint !== undefined && SCHEMA1.has(hint))) refuseSchema1(what);
  const kindOf = (t: unknown): "index" | "manifest" | undefined => (typeof t !== "string" ? undefined : INDEX_TYPES.has(t) ? "index" : MANIFEST_TYPES.has(t) ? "manifest" : undefined);
  const own = kindOf(doc.mediaType);
  const hinted = kindOf(hint);
  if (own && hinted && own !== hinted) throw invalidArgument(`${what}: mediaType: the document is ${own === "index" ? "an index" : "a manifest"} (${String(doc.mediaType)}) but was described as ${hint}`);
  let kind = own ?? hinted;
  if (kind === undefined && doc.mediaType === undefined) {
    const looksIndex = Array.isArray(doc.manifests);
    const looksManifest = doc.config !== undefined || Array.isArray(doc.layers);
    if (looksIndex !== looksManifest) kind = looksIndex ? "index" : "manifest";
  }
  if (kind === undefined) {
    if (typeof doc.mediaType === "string" && SCHEMA1.has(doc.mediaType)) refuseSchema1(what);
    if (doc.mediaType !== undefined) c.fail("mediaType", "an image manifest or index media type", doc.mediaType);
    throw invalidArgument(`${what}: expected an image manifest (with "config" and "layers") or an image index (with "manifests")`);
  }
  return kind === "index" ? { kind, index: checkIndex(doc, c) } : { kind, manifest: checkManifest(doc, c) };
}

// Docker writes null for unset lists and maps; dropping those keeps the types simple.
function dropNulls(o: Json): void {
  for (const k of Object.keys(o)) if (o[k] === null) delete o[k];
}

/** An image config (OCI or Docker's application/vnd.docker.container.image.v1+json). */
export function parseImageConfig(data: Buffer | string, what: string): ImageConfig {
  const doc = parseJson(data, what);
  const c: Checker = new Checker(what);
  dropNulls(doc);
  for (const k of ["created", "author", "os.version", "variant"]) c.string(doc[k], k);
  c.string(doc.architecture, "architecture", false);
  c.string(doc.os, "os", false);
  const rootfs = c.object(doc.rootfs, "rootfs");
  if (rootfs.type !== "layers") c.fail("rootfs.type", '"layers"', rootfs.type);
  if (!Array.isArray(rootfs.diff_ids)) c.fail("rootfs.diff_ids", "an array of digests", rootfs.diff_ids);
  rootfs.diff_ids.forEach((d, i) => c.digest(d, `rootfs.diff_ids[${i}]`));
  if (doc.config !== undefined) {
    const cfg = c.object(doc.config, "config");
    dropNulls(cfg);
    for (const k of ["User", "WorkingDir", "StopSignal"]) c.string(cfg[k], `config.${k}`);
    for (const k of ["Env", "Entrypoint", "Cmd", "OnBuild", "Shell"]) c.strings(cfg[k], `config.${k}`);
    for (const k of ["ExposedPorts", "Volumes"]) if (cfg[k] !== undefined) c.object(cfg[k], `config.${k}`);
    c.stringMap(cfg.Labels, "config.Labels");
    if (cfg.ArgsEscaped !== undefined && typeof cfg.ArgsEscaped !== "boolean") c.fail("config.ArgsEscaped", "a boolean", cfg.ArgsEscaped);
    if (cfg.Healthcheck !== undefined) {
      const h = c.object(cfg.Healthcheck, "config.Healthcheck");
      dropNulls(h);
      c.strings(h.Test, "config.Healthcheck.Test");
      for (const k of ["Interval", "Timeout", "StartPeriod", "Retries"]) c.integer(h[k], `config.Healthcheck.${k}`);
    }
  }
  if (doc.history !== undefined) {
    if (!Array.isArray(doc.history)) c.fail("history", "an array", doc.history);
    doc.history.forEach((h, i) => {
      const entry = c.object(h, `history[${i}]`);
      dropNulls(entry);
      for (const k of ["created", "created_by", "author", "comment"]) c.string(entry[k], `history[${i}].${k}`);
      if (entry.empty_layer !== undefined && typeof entry.empty_layer !== "boolean") c.fail(`history[${i}].empty_layer`, "a boolean", entry.empty_layer);
    });
  }
  return doc as unknown as ImageConfig;
}

// ---- platforms ---------------------------------------------------------------------------

// Architecture spellings seen in the wild (uname, Debian, Node) mapped to the OCI/Go names.
const ARCH_ALIASES: Record<string, { architecture: string; variant?: string }> = {
  x86_64: { architecture: "amd64" },
  x64: { architecture: "amd64" },
  aarch64: { architecture: "arm64" },
  armhf: { architecture: "arm", variant: "v7" },
  armel: { architecture: "arm", variant: "v6" },
  i386: { architecture: "386" },
  i686: { architecture: "386" },
  ia32: { architecture: "386" },
};

// The variant an image without one is built for, and the order in which CPUs run older ones.
const VARIANTS: Record<string, string[]> = {
  arm: ["v5", "v6", "v7", "v8"],
  arm64: ["v8", "v8.1", "v8.2", "v8.3", "v8.4", "v8.5", "v8.6", "v8.7", "v8.8", "v8.9", "v9", "v9.1", "v9.2", "v9.3", "v9.4", "v9.5"],
  amd64: ["v1", "v2", "v3", "v4"],
};
const DEFAULT_VARIANT: Record<string, string> = { arm: "v7", arm64: "v8", amd64: "v1" };

function normalize(p: Platform): { os: string; architecture: string; variant?: string } {
  const alias = ARCH_ALIASES[p.architecture.toLowerCase()];
  const architecture = alias?.architecture ?? p.architecture.toLowerCase();
  const variant = (p.variant || alias?.variant || DEFAULT_VARIANT[architecture])?.toLowerCase();
  return { os: p.os.toLowerCase(), architecture, ...(variant ? { variant } : {}) };
}

/**
 * Whether an image built for `have` runs on `want`. A descriptor without a platform matches
 * anything (as containerd treats it); a CPU runs older variants of its architecture
 * (arm/v7 runs arm/v6, amd64/v3 runs amd64/v2).
 */
export function platformMatches(want: Platform, have?: Platform): boolean {
  if (!have) return true;
  const w = normalize(want);
  const h = normalize(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return false;
  if (w.variant === h.variant) return true;
  const order = VARIANTS[w.architecture];
  if (!order || !w.variant || !h.variant) return false;
  const wi = order.indexOf(w.variant);
  const hi = order.indexOf(h.variant);
  return wi >= 0 && hi >= 0 && hi <= wi;
}

/** The platform of the machine berth runs on, in OCI names. */
export function hostPlatform(): Platform {
  const os = osPlatform() === "win32" ? "windows" : osPlatform();
  const nodeArch = arch();
  switch (nodeArch) {
    case "x64":
      return { os, architecture: "amd64" };
    case "arm64":
      return { os, architecture: "arm64", variant: "v8" };
    case "arm": {
      // Node is built for one ARM level; that is the best guess at the CPU's without /proc.
      const level = (process.config.variables as Record<string, unknown>).arm_version;
      return { os, architecture: "arm", variant: `v${typeof level === "string" && /^[5-8]$/.test(level) ? level : "7"}` };
    }
    case "ia32":
      return { os, architecture: "386" };
    case "ppc64":
      return { os, architecture: endianness() === "LE" ? "ppc64le" : "ppc64" };
    case "mipsel":
      return { os, architecture: "mipsle" };
    case "mips64el":
      return { os, architecture: "mips64le" };
    default:
      return { os, architecture: nodeArch }; // s390x, riscv64, loong64, mips: same names
  }
}

/** "os/arch[/variant]" as `--platform` takes it: linux/amd64, linux/arm/v7, linux/arm64/v8. */
export function parsePlatform(s: string): Platform {
  const parts = s.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p))) {
    throw invalidArgument(`invalid platform ${JSON.stringify(s)}: expected os/arch[/variant], like linux/amd64 or linux/arm/v7`);
  }
  const os = parts[0]!.toLowerCase();
  const alias = ARCH_ALIASES[parts[1]!.toLowerCase()];
  const architecture = alias?.architecture ?? parts[1]!.toLowerCase();
  const variant = parts[2]?.toLowerCase() ?? alias?.variant;
  return { os, architecture, ...(variant ? { variant } : {}) };
}
