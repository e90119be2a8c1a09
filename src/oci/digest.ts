// Content digests as the image-spec defines them (descriptor.md, "Digests"): `algorithm:encoded`.
// berth verifies sha256 and sha512, the two registered algorithms; other grammatical digests are
// well-formed but cannot be checked, so anything that must verify content refuses them.

import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { failedPrecondition, invalidArgument } from "../errors.js";

export type DigestAlgorithm = "sha256" | "sha512";

/** The digest grammar of descriptor.md, for any algorithm. */
export const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

function quote(s: string): string {
  return JSON.stringify(s.length > 140 ? `${s.slice(0, 140)}…` : s);
}

/** Splits a digest berth can verify; `what` names it in errors ("blob", "manifest config.digest"). */
export function parseDigest(s: string, what: string): { algorithm: DigestAlgorithm; hex: string } {
  if (typeof s !== "string" || !DIGEST_GRAMMAR.test(s)) throw invalidArgument(`${what}: expected algorithm:hex, got ${typeof s === "string" ? quote(s) : String(s)}`);
  const colon = s.indexOf(":");
  const algorithm = s.slice(0, colon);
  const hex = s.slice(colon + 1);
  if (algorithm !== "sha256" && algorithm !== "sha512") {
    throw invalidArgument(`${what}: unsupported digest algorithm "${algorithm}" in ${quote(s)}, expected sha256 or sha512`);
  }
  const length = HEX_LENGTH[algorithm];
  if (hex.length !== length || !/^[0-9a-f]+$/.test(hex)) {
    throw invalidArgument(`${what}: expected ${algorithm}:<${length} lowercase hex digits>, got ${quote(s)}`);
  }
  return { algorithm, hex };
}

function checkAlgorithm(algorithm: string): DigestAlgorithm {
  if (algorithm !== "sha256" && algorithm !== "sha512") throw invalidArgument(`digest algorithm "${algorithm}": expected sha256 or sha512`);
  return algorithm;
}

/** "sha256:<hex>" of some bytes. */
export function digestOf(data: Buffer | string, algorithm: DigestAlgorithm = "sha256"): string {
  return `${checkAlgorithm(algorithm)}:${createHash(algorithm).update(data).digest("hex")}`;
}

/** Digests data fed in pieces, counting its bytes. */
export class Digester {
  readonly algorithm: DigestAlgorithm;
  size = 0;
  private readonly hash: Hash;
  private result?: string;

  constructor(algorithm: DigestAlgorithm = "sha256") {
    this.algorithm = checkAlgorithm(algorithm);
    this.hash = createHash(algorithm);
  }

  update(chunk: Buffer | string): this {
    if (this.result !== undefined) throw failedPrecondition("digester: update after digest()");
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    this.hash.update(buf);
    this.size += buf.length;
    return this;
  }

  /** The digest of everything so far; the digester is finished after the first call. */
  digest(): string {
    this.result ??= `${this.algorithm}:${this.hash.digest("hex")}`;
    return this.result;
  }
}

/** A passthrough that digests what flows through it (a layer's diffID while it is compressed). */
export class DigestingStream extends Transform {
  private readonly digester: Digester;
  private ended = false;

  constructor(algorithm: DigestAlgorithm = "sha256") {
    super();
    this.digester = new Digester(algorithm);
  }

  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.digester.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.ended = true;
    callback();
  }

  get size(): number {
    return this.digester.size;
  }

  /** The digest of the whole stream; only once it has ended, so a partial digest is never used. */
  digest(): string {
    if (!this.ended) throw failedPrecondition("digesting stream: digest() called before the stream ended");
    return this.digester.digest();
  }
}

export function digestingStream(algorithm: DigestAlgorithm = "sha256"): DigestingStream {
  return new DigestingStream(algorithm);
}

/** ChainIDs of a layer stack (config.md, "Layer ChainID"): each names a layer with all below it. */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) out.push(out.length === 0 ? diffId : digestOf(`${out[out.length - 1]} ${diffId}`));
  return out;
}
