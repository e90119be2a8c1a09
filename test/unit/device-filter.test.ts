// The cgroup v2 device program: OCI device rules compiled to eBPF and run on requests in the
// interpreter (the kernel runs the same bytes in test/integration/cgroups-v2-devices.test.ts).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { compileDeviceFilter, runDeviceFilter } from "../../src/cgroups/index.js";
import type { DeviceCgroupRule } from "../../src/oci/runtime-spec.js";
import { BerthError } from "../../src/errors.js";

const allowed = (rules: DeviceCgroupRule[], type: "b" | "c", major: number, minor: number, access: string) =>
  runDeviceFilter(compileDeviceFilter(rules), { type, major, minor, access });

describe("cgroup v2 device program", () => {
  test("no rules: every device is refused", () => {
    assert.equal(allowed([], "c", 1, 3, "r"), false);
    assert.equal(allowed([], "b", 8, 0, "m"), false);
  });

  test("an allow rule grants its type, numbers and access letters only", () => {
    const rules: DeviceCgroupRule[] = [{ allow: true, type: "c", major: 1, minor: 3, access: "rw" }];
    assert.equal(allowed(rules, "c", 1, 3, "r"), true);
    assert.equal(allowed(rules, "c", 1, 3, "rw"), true);
    assert.equal(allowed(rules, "c", 1, 3, "m"), false, "mknod was not granted");
    assert.equal(allowed(rules, "c", 1, 3, "rm"), false, "part of the request is not granted");
    assert.equal(allowed(rules, "b", 1, 3, "r"), false, "block device with the same numbers");
    assert.equal(allowed(rules, "c", 1, 5, "r"), false);
    assert.equal(allowed(rules, "c", 2, 3, "r"), false);
  });

  test("wildcards: type a, missing or -1 major/minor, missing access", () => {
    assert.equal(allowed([{ allow: true, type: "a" }], "b", 8, 1, "rwm"), true);
    assert.equal(allowed([{ allow: true }], "c", 200, 7, "w"), true);
    const pts: DeviceCgroupRule[] = [{ allow: true, type: "c", major: 136, minor: -1, access: "rwm" }];
    assert.equal(allowed(pts, "c", 136, 0, "rw"), true);
    assert.equal(allowed(pts, "c", 136, 4242, "rw"), true);
    assert.equal(allowed(pts, "c", 137, 0, "rw"), false);
    assert.equal(allowed([{ allow: true, type: "b", major: null, minor: 0, access: "r" }], "b", 259, 0, "r"), true);
  });

  test("later rules win: deny-all then allow, allow then a narrower deny", () => {
    const docker: DeviceCgroupRule[] = [
      { allow: false, access: "rwm" },
      { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
    ];
    assert.equal(allowed(docker, "c", 1, 3, "rw"), true);
    assert.equal(allowed(docker, "c", 1, 11, "r"), false);
    const narrowed: DeviceCgroupRule[] = [
      { allow: true, type: "c", major: 10, minor: 200, access: "rwm" },
      { allow: false, type: "c", major: 10, minor: 200, access: "w" },
    ];
    assert.equal(allowed(narrowed, "c", 10, 200, "r"), true, "read survives the write deny");
    assert.equal(allowed(narrowed, "c", 10, 200, "rw"), false, "asking for write is refused");
    assert.equal(allowed(narrowed, "c", 10, 200, "m"), true);
    const reopened: DeviceCgroupRule[] = [...narrowed, { allow: true, type: "c", major: 10, minor: 200, access: "w" }];
    assert.equal(allowed(reopened, "c", 10, 200, "rw"), true);
  });

  test("every instruction is reachable (the kernel's verifier refuses dead code)", () => {
    const reachable = (prog: Buffer): boolean => {
      const n = prog.length / 8;
      const seen = new Set<number>();
      const todo = [0];
      while (todo.length) {
        const pc = todo.pop()!;
        if (seen.has(pc) || pc >= n) continue;
        seen.add(pc);
        const op = prog.readUInt8(pc * 8);
        const off = prog.readInt16LE(pc * 8 + 2);
        if (op === 0x95) continue; // exit
        if (op === 0x05) todo.push(pc + 1 + off);
        else if ((op & 0x07) === 0x05) todo.push(pc + 1, pc + 1 + off);
        else todo.push(pc + 1);
      }
      return seen.size === n;
    };
    for (const rules of [
      [],
      [{ allow: true, access: "rwm" }],
      [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 3 }],
      [{ allow: true, type: "c", major: 1, minor: 3 }, { allow: false }],
      [{ allow: true, type: "a", access: "r" }, { allow: false, type: "b", access: "w" }],
    ] as DeviceCgroupRule[][]) {
      assert.ok(reachable(compileDeviceFilter(rules)), JSON.stringify(rules));
    }
    assert.equal(allowed([{ allow: true, access: "rwm" }], "b", 8, 0, "rwm"), true, "privileged: everything");
  });

  test("bad rules are one clear line naming the rule", () => {
    const bad = (r: DeviceCgroupRule, re: RegExp) =>
      assert.throws(() => compileDeviceFilter([{ allow: true }, r]), (e: unknown) => e instanceof BerthError && re.test(e.message));
    bad({ allow: true, type: "x" }, /^linux\.resources\.devices\[1\]\.type: expected "a", "b" or "c", got "x"$/);
    bad({ allow: true, access: "rwx" }, /^linux\.resources\.devices\[1\]\.access: expected letters of "rwm", got "rwx"$/);
    bad({ allow: true, major: 1.5 }, /^linux\.resources\.devices\[1\]\.major: expected a device number or -1, got 1\.5$/);
  });
});
