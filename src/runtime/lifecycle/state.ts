// state: the state document of runtime.md.
import type { State } from "../../oci/runtime-spec.js";
import { Container, type RuntimeContext } from "../container.js";

export function state(ctx: RuntimeContext, id: string): State {
  return Container.load(ctx, id).state();
}
