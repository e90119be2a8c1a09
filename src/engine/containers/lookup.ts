// Finding a container by name, full ID or unique ID prefix, as Docker does.
import { conflict, notFound } from "../../errors.js";
import type { EngineContext } from "../context.js";
import type { ContainerRow } from "../db.js";

export function lookup(ctx: EngineContext, ref: string): ContainerRow {
  const name = ref.replace(/^\//, "");
  const byName = ctx.db.containerByName(name);
  if (byName) return byName;
  if (/^[0-9a-f]+$/.test(ref)) {
    const found = ctx.db.containersByPrefix(ref);
    if (found.length === 1) return found[0]!;
    if (found.length > 1) throw conflict(`multiple containers found with ID prefix ${ref}: ${found.map((r) => r.id.slice(0, 12)).join(", ")}`);
  }
  throw notFound(`No such container: ${ref}`);
}
