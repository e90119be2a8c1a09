// cgroup v2 device rules are an eBPF program the executor attaches to the container's cgroup.
// On a hybrid host (v1 controllers plus a cgroup2 mount) BERTH_CGROUP_MODE=v2 puts the container
// in the cgroup2 mount, so the kernel enforces the program here too.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { parseMountInfo } from "../../src/cgroups/detect.js";
import { rootSkip, sandbox, type Path, type Sandbox } from "../helpers/oci.js";

const cgroup2 = parseMountInfo(readFileSync("/proc/self/mountinfo", "utf8")).find((m) => m.fsType === "cgroup2");
const skip = rootSkip || (cgroup2 ? false : "needs a cgroup2 mount");
const CAPS = ["CAP_MKNOD", "CAP_KILL", "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE"];

for (const mode of ["direct", "warm"] as Path[]) {
  describe(`cgroup v2 device program (${mode})`, { skip }, () => {
    let box: Sandbox;
    before(() => {
      box = sandbox(mode);
      box.env.BERTH_CGROUP_MODE = "v2";
    });
    after(() => box?.cleanup());

    test("a device outside the allow list cannot be created or opened; allowed access works", () => {
      const b = box.bundle("dev", (s) => {
        const c = s.process!.capabilities!;
        c.bounding = c.effective = c.permitted = CAPS;
        s.linux!.resources = {
          devices: [
            { allow: false, access: "rwm" },
            { allow: true, type: "c", major: 10, minor: 200, access: "rwm" },
            { allow: false, type: "c", major: 10, minor: 200, access: "w" },
          ],
        };
        s.process!.args = [
          "sh",
          "-c",
          [
            "mknod /dev/tun c 10 200 && echo mknod-tun-ok",
            "exec 3</dev/tun && echo tun-read-ok",
            "(exec 4>/dev/tun) 2>&1 || echo tun-write-refused",
            "mknod /dev/kmsg c 1 11 2>&1 || echo mknod-kmsg-refused",
            "echo hi > /dev/null && echo null-ok",
            "head -c 3 /dev/zero | wc -c",
          ].join("; "),
        ];
      });
      const r = box.oci(["run", "--bundle", b, `${mode}-dev`]);
      assert.equal(r.stderr, "");
      assert.equal(r.code, 0);
      const lines = r.stdout.trim().split("\n");
      assert.deepEqual(
        lines.filter((l) => !/Operation not permitted/.test(l)),
        ["mknod-tun-ok", "tun-read-ok", "tun-write-refused", "mknod-kmsg-refused", "null-ok", "3"],
      );
      assert.equal(lines.filter((l) => /Operation not permitted/.test(l)).length, 2, r.stdout);
    });

    test("the container lives in the cgroup2 mount, and delete removes its cgroup", () => {
      const b = box.bundle("where", (s) => {
        s.process!.args = ["sleep", "30"];
      });
      const spec = JSON.parse(readFileSync(path.join(b, "config.json"), "utf8"));
      const dir = path.join(cgroup2!.mountPoint, spec.linux.cgroupsPath);
      const id = `${mode}-where`;
      assert.equal(box.oci(["create", "--bundle", b, id]).code, 0);
      const pid = JSON.parse(box.oci(["state", id]).stdout).pid;
      assert.deepEqual(readFileSync(path.join(dir, "cgroup.procs"), "utf8").trim().split("\n"), [String(pid)]);
      assert.equal(box.oci(["delete", "--force", id]).code, 0);
      assert.equal(existsSync(dir), false, `${dir} is left behind`);
    });

    test("a bad rule is refused before anything is made", () => {
      const b = box.bundle("bad", (s) => {
        s.linux!.resources = { devices: [{ allow: true, type: "q" }] };
      });
      const r = box.oci(["create", "--bundle", b, `${mode}-bad`]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^berth-oci: config\.json: linux\.resources\.devices\[0\]\.type: unknown device type "q".*\n$/);
      assert.equal(box.oci(["state", `${mode}-bad`]).code, 1);
    });
  });
}
