// runc's other verbs on a real kernel: pause/resume, ps, update, events, features.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { rootSkip, type Sandbox, sandbox } from "../helpers/oci.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const mode of ["direct", "warm"] as const)
describe(`berth-oci pause, ps, update, events, features (${mode})`, { skip: rootSkip }, () => {
  let box: Sandbox;
  before(() => {
    box = sandbox(mode);
  });
  after(() => box?.cleanup());
  const state = (id: string) => JSON.parse(box.oci(["state", id]).stdout) as { status: string; pid: number };

  test("pause stops a counter from advancing, resume lets it go on", async () => {
    const counter = path.join(box.dir, "counter");
    const b = box.bundle("counting", (s) => {
      s.process!.args = ["sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /out/counter; sleep 0.01; done"];
      s.mounts!.push({ destination: "/out", type: "bind", source: box.dir, options: ["rbind", "rw"] });
    });
    assert.equal(box.oci(["run", "-d", "--bundle", b, "counting"]).code, 0);
    try {
      for (let i = 0; i < 300 && !existsSync(counter); i++) await sleep(10);
      const p = box.oci(["pause", "counting"]);
      assert.equal(p.code, 0, p.stderr);
      assert.equal(state("counting").status, "paused");
      const frozenAt = readFileSync(counter, "utf8");
      await sleep(300);
      assert.equal(readFileSync(counter, "utf8"), frozenAt, "no progress while paused");
      const again = box.oci(["pause", "counting"]);
      assert.equal(again.code, 1);
      assert.equal(again.stderr, 'berth-oci: container "counting" is not running (status: paused)\n');
      assert.equal(box.oci(["resume", "counting"]).code, 0);
      assert.equal(state("counting").status, "running");
      // the counter is rewritten (truncated, then written) 100 times a second: an empty read
      // is a write under way, so look again, within a bound
      let after = 0;
      for (let i = 0; i < 300 && !(after > Number(frozenAt)); i++) {
        await sleep(10);
        after = Number(readFileSync(counter, "utf8"));
      }
      assert.ok(after > Number(frozenAt), "counting again after resume");
      const notPaused = box.oci(["resume", "counting"]);
      assert.equal(notPaused.stderr, 'berth-oci: container "counting" is not paused (status: running)\n');
    } finally {
      box.oci(["delete", "-f", "counting"]);
    }
  });

  test("a paused container can be deleted with --force", () => {
    const b = box.bundle("frozen", (s) => {
      s.process!.args = ["sleep", "100"];
    });
    assert.equal(box.oci(["run", "-d", "--bundle", b, "frozen"]).code, 0);
    assert.equal(box.oci(["pause", "frozen"]).code, 0);
    assert.equal(box.oci(["delete", "frozen"]).code, 1);
    assert.equal(box.oci(["delete", "-f", "frozen"]).code, 0);
    assert.equal(existsSync(path.join(box.root, "frozen")), false);
  });

  test("ps lists the container's processes as host pids", () => {
    const b = box.bundle("procs", (s) => {
      s.process!.args = ["sh", "-c", "sleep 100 & sleep 100 & wait"];
    });
    assert.equal(box.oci(["run", "-d", "--bundle", b, "procs"]).code, 0);
    try {
      let pids: number[] = [];
      for (let i = 0; i < 100; i++) {
        pids = JSON.parse(box.oci(["ps", "--format", "json", "procs"]).stdout);
        if (pids.length === 3) break;
      }
      assert.equal(pids.length, 3);
      assert.ok(pids.includes(state("procs").pid));
      const table = box.oci(["ps", "procs"]).stdout;
      assert.match(table, /^PID\s+CMD\n/);
      assert.equal((table.match(/^\d+\s+sleep 100$/gm) ?? []).length, 2);
    } finally {
      box.oci(["delete", "-f", "procs"]);
    }
  });

  test("update changes limits of a running container", () => {
    const cgroupsPath = `/${path.basename(box.dir)}-upd`;
    const b = box.bundle("upd", (s) => {
      s.process!.args = ["sleep", "100"];
      s.linux!.cgroupsPath = cgroupsPath;
      s.linux!.resources = { memory: { limit: 64 << 20 }, pids: { limit: 50 } };
    });
    assert.equal(box.oci(["run", "-d", "--bundle", b, "upd"]).code, 0);
    try {
      const r = box.oci(["update", "--memory", String(128 << 20), "--pids-limit", "20", "upd"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(readFileSync(`/sys/fs/cgroup/memory${cgroupsPath}/memory.limit_in_bytes`, "utf8").trim(), String(128 << 20));
      assert.equal(readFileSync(`/sys/fs/cgroup/pids${cgroupsPath}/pids.max`, "utf8").trim(), "20");
      const bad = box.oci(["update", "--memory", "lots", "upd"]);
      assert.equal(bad.code, 1);
      assert.equal(bad.stderr, 'berth-oci: --memory "lots": expected an integer\n');
    } finally {
      box.oci(["delete", "-f", "upd"]);
    }
  });

  test("events --stats prints the container's usage as JSON", () => {
    const b = box.bundle("ev", (s) => {
      s.process!.args = ["sleep", "100"];
      s.linux!.resources = { memory: { limit: 64 << 20 } };
    });
    assert.equal(box.oci(["run", "-d", "--bundle", b, "ev"]).code, 0);
    try {
      const ev = JSON.parse(box.oci(["events", "--stats", "ev"]).stdout);
      assert.equal(ev.type, "stats");
      assert.equal(ev.id, "ev");
      assert.equal(ev.data.memory.usage.limit, 64 << 20);
      assert.ok(ev.data.memory.usage.usage > 0);
      assert.equal(ev.data.pids.current, 1);
    } finally {
      box.oci(["delete", "-f", "ev"]);
    }
  });

  test("features describes this build", () => {
    const f = JSON.parse(box.oci(["features"]).stdout);
    assert.equal(f.ociVersionMin, "1.0.0");
    assert.ok(f.hooks.includes("createContainer"));
    assert.ok(f.mountOptions.includes("rbind"));
    assert.ok(f.linux.namespaces.includes("pid"));
    assert.ok(f.linux.capabilities.includes("CAP_SYS_ADMIN"));
    assert.equal(f.linux.seccomp.enabled, true);
    assert.ok(f.linux.seccomp.actions.includes("SCMP_ACT_ERRNO"));
  });
});
