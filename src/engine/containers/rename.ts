// rename: a container's name, checked as Docker checks it; a name that is taken is a conflict
// (the database's UNIQUE constraint decides, so two renames at once cannot both win).
import { alreadyExists, invalidArgument } from "../../errors.js";
import type { EngineContext } from "../context.js";
import type { ContainerRow } from "../db.js";
import { checkName } from "../options.js";
import { lookup } from "./lookup.js";

export function rename(ctx: EngineContext, ref: string, newName: string): ContainerRow {
  if (!ref || !newName) throw invalidArgument("Neither old nor new names may be empty");
  checkName(newName);
  const name = newName.replace(/^\//, "");
  const row = lookup(ctx, ref);
  if (row.name === name) throw invalidArgument(`Renaming a container with the same name as its current name: ${name}`);
  try {
    ctx.db.updateContainer(row.id, { name });
  } catch (e) {
    if ((e as { code?: string }).code !== "SQLITE_CONSTRAINT_UNIQUE") throw e;
    const other = ctx.db.containerByName(name);
    throw alreadyExists(`Conflict. The container name "/${name}" is already in use by container "${other?.id ?? "?"}". You have to remove (or rename) that container to be able to reuse that name.`);
  }
  return ctx.db.container(row.id) ?? { ...row, name };
}
