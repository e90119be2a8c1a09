// v2 hugetlb controller: hugetlb.<size>.max.
import { RES, requestedHugepages, type Controller } from "../controller.js";
import { int } from "../files.js";

const S = `${RES}.hugepageLimits`;

export const hugetlb: Controller = {
  name: "hugetlb",
  requested: requestedHugepages,
  apply(dir, r, files) {
    for (const h of r.hugepageLimits ?? []) files.write(dir, `hugetlb.${h.pageSize}.max`, int(S, h.limit), `${S} ${h.pageSize}`);
  },
};
