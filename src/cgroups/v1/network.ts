// v1 net_cls and net_prio controllers: net_cls.classid, net_prio.ifpriomap.
import { RES, type Controller } from "../controller.js";
import { int } from "../files.js";

const S = `${RES}.network`;

export const netCls: Controller = {
  name: "net_cls",
  requested(r) {
    if (r.network?.classID === undefined) return undefined;
    int(`${S}.classID`, r.network.classID);
    return `${S}.classID`;
  },
  apply(dir, r, files) {
    files.write(dir, "net_cls.classid", int(`${S}.classID`, r.network!.classID!), `${S}.classID`);
  },
};

export const netPrio: Controller = {
  name: "net_prio",
  requested(r) {
    if (!r.network?.priorities?.length) return undefined;
    for (const p of r.network.priorities) int(`${S}.priorities`, p.priority);
    return `${S}.priorities`;
  },
  apply(dir, r, files) {
    for (const p of r.network!.priorities!) files.write(dir, "net_prio.ifpriomap", `${p.name} ${p.priority}`, `${S}.priorities`);
  },
};
