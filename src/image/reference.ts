// Image references as Docker reads them (distribution/reference's grammar and normalisation):
//   busybox              -> docker.io/library/busybox:latest
//   localhost:5000/a/b:1 -> localhost:5000/a/b:1
//   ghcr.io/x/y@sha256:… -> ghcr.io/x/y@sha256:…
// so that names typed for docker or podman mean the same image in berth.

import { invalidArgument } from "../errors.js";
import { parseDigest } from "../oci/index.js";

export interface Reference {
  /** Registry host[:port]; "docker.io" when none was given. */
  readonly domain: string;
  /** Repository path inside the registry ("library/busybox"). */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
  /** domain/path */
  readonly name: string;
  /** The full form: docker.io/library/busybox:latest, name@digest or name:tag@digest. */
  toString(): string;
  /** What docker shows: busybox:latest, host:5000/a/b:tag, ghcr.io/x/y:1. */
  familiar(): string;
}

export const DEFAULT_DOMAIN = "docker.io";
const LEGACY_DOMAIN = "index.docker.io";
const NAME_MAX = 255;
const TAG = /^[\w][\w.-]{0,127}$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_LABEL = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = new RegExp(`^(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);

class ImageReference implements Reference {
  readonly name: string;

  constructor(
    readonly domain: string,
    readonly path: string,
    readonly tag?: string,
    readonly digest?: string,
  ) {
    this.name = `${domain}/${path}`;
  }

  private suffix(): string {
    return `${this.tag !== undefined ? `:${this.tag}` : ""}${this.digest !== undefined ? `@${this.digest}` : ""}`;
  }

  toString(): string {
    return this.name + this.suffix();
  }

  familiar(): string {
    if (this.domain !== DEFAULT_DOMAIN) return this.toString();
    const short = /^library\/[^/]+$/.test(this.path) ? this.path.slice("library/".length) : this.path;
    return short + this.suffix();
  }
}

/** Parses and normalises a reference; no tag and no digest means tag "latest". */
export function parseReference(s: string): Reference {
  const bad = (why: string) => invalidArgument(`invalid reference ${JSON.stringify(s)}: ${why}`);
  if (s === "") throw bad("empty");
  let rest = s;
  let digest: string | undefined;
  let tag: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    parseDigest(digest, `invalid reference ${JSON.stringify(s)}: digest`);
  }
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`tag ${JSON.stringify(tag)}: expected up to 128 letters, digits, "_", "." or "-", not starting with "." or "-"`);
  }
  if (rest === "") throw bad("missing repository name");
  if (rest.length > NAME_MAX) throw bad(`repository name must not be longer than ${NAME_MAX} characters`);
  // Docker refuses these so that an image ID is never mistaken for a name on docker.io.
  if (rest === s && /^[a-f0-9]{64}$/.test(s)) throw bad("a 64-character hexadecimal string is an image ID, not a repository name");

  // A first component is a registry when it looks like a host: it has a "." or ":", is
  // "localhost", or has capitals (which a repository path cannot).
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (/[.:]/.test(first) || first === "localhost" || first !== first.toLowerCase()) {
      domain = first;
      path = rest.slice(slash + 1);
      if (!DOMAIN.test(domain)) throw bad(`registry ${JSON.stringify(domain)}: expected a host name or IP address with an optional :port`);
    }
  }
  if (domain === LEGACY_DOMAIN) domain = DEFAULT_DOMAIN;
  if (path !== path.toLowerCase()) throw bad("repository name must be lowercase");
  for (const component of path.split("/")) {
    if (component === "") throw bad("repository name has an empty path component");
    if (!PATH_COMPONENT.test(component)) {
      throw bad(`path component ${JSON.stringify(component)}: expected lowercase letters and digits separated by ".", "_", "__" or "-"`);
    }
  }
  if (domain === DEFAULT_DOMAIN && !path.includes("/")) path = `library/${path}`;
  if (tag === undefined && digest === undefined) tag = "latest";
  return new ImageReference(domain, path, tag, digest);
}

/** Whether a reference pins content by digest (pulls of it need no tag resolution). */
export function isDigestReference(ref: Reference | string): boolean {
  return (typeof ref === "string" ? parseReference(ref) : ref).digest !== undefined;
}

/** The same repository under another tag; the digest is dropped, as a tag names a moving target. */
export function withTag(ref: Reference, tag: string): Reference {
  if (!TAG.test(tag)) throw invalidArgument(`invalid tag ${JSON.stringify(tag)}: expected up to 128 letters, digits, "_", "." or "-", not starting with "." or "-"`);
  return new ImageReference(ref.domain, ref.path, tag);
}
