// What a URL may name, checked before anything touches the disk: repository names by the
// distribution spec's grammar (so "..", "%2e", "_" or empty components never reach a path),
// tags by the tag grammar, digests as sha256/sha512 of the exact length.

import { BerthError } from "../../errors.js";
import { parseDigest, type DigestAlgorithm } from "../../oci/index.js";
import { registryError } from "./errors.js";

/** spec.md: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)* */
const NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const NAME_MAX = 255;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

function quote(s: string): string {
  return JSON.stringify(s.length > 100 ? `${s.slice(0, 100)}…` : s);
}

export function checkName(name: string): string {
  if (name.length > NAME_MAX || !NAME.test(name)) {
    throw registryError("NAME_INVALID", `invalid repository name ${quote(name)}: expected lowercase path components of letters and digits separated by ".", "_", "__" or "-", joined by "/", at most ${NAME_MAX} characters`, { name });
  }
  return name;
}

export function isTag(s: string): boolean {
  return TAG.test(s);
}

/** A digest berth can verify (sha256 or sha512), else DIGEST_INVALID naming what is wrong. */
export function checkDigest(s: string, what = "digest"): { digest: string; algorithm: DigestAlgorithm; hex: string } {
  try {
    const { algorithm, hex } = parseDigest(s, what);
    return { digest: s, algorithm, hex };
  } catch (e) {
    if (e instanceof BerthError) throw registryError("DIGEST_INVALID", e.message, { digest: s });
    throw e;
  }
}

export type ManifestReference = { tag: string; digest?: undefined } | { digest: string; tag?: undefined };

/** A manifest reference is a tag or a digest, nothing else. */
export function checkReference(s: string): ManifestReference {
  if (s.includes(":")) return { digest: checkDigest(s, "manifest reference").digest };
  if (!isTag(s)) throw registryError("MANIFEST_INVALID", `invalid manifest reference ${quote(s)}: expected a tag (up to 128 letters, digits, "_", "." or "-", not starting with "." or "-") or a digest`, { reference: s });
  return { tag: s };
}
