// Basic authentication against an htpasswd file of bcrypt hashes (what `htpasswd -B` writes:
// "user:$2y$05$…"). bcrypt is slow on purpose, so a credential that verified once is
// remembered (by a sha256 of it, never the password) and later requests skip the hash.

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import bcrypt from "bcryptjs";
import { invalidArgument } from "../../errors.js";

const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;
const REMEMBERED_MAX = 1024;

export class Htpasswd {
  private readonly users = new Map<string, string>();
  private readonly remembered = new Set<string>();

  constructor(file: string) {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      throw invalidArgument(`--htpasswd ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
    }
    text.split("\n").forEach((raw, i) => {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) return;
      const colon = line.indexOf(":");
      const user = line.slice(0, colon);
      const hash = line.slice(colon + 1);
      if (colon <= 0 || !BCRYPT.test(hash)) {
        throw invalidArgument(`--htpasswd ${file}: line ${i + 1}: expected user:bcrypt-hash (as "htpasswd -B" writes), got ${JSON.stringify(line.slice(0, 40))}`);
      }
      this.users.set(user, hash);
    });
    if (this.users.size === 0) throw invalidArgument(`--htpasswd ${file}: no users in it`);
  }

  /** The user an Authorization header names, when its password is right. */
  async verify(header: string | undefined): Promise<string | undefined> {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
    if (!m) return undefined;
    const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return undefined;
    const user = decoded.slice(0, colon);
    const hash = this.users.get(user);
    if (hash === undefined) return undefined;
    const key = createHash("sha256").update(hash).update("\0").update(decoded).digest("hex");
    if (this.remembered.has(key)) return user;
    if (!(await bcrypt.compare(decoded.slice(colon + 1), hash))) return undefined;
    if (this.remembered.size >= REMEMBERED_MAX) this.remembered.clear();
    this.remembered.add(key);
    return user;
  }
}
