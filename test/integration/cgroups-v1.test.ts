// The v1 driver against the real kernel: limits read back from the kernel's files,
// a real process joined, frozen, killed, and every directory removed afterwards.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { cgroupManager, detectCgroupMode } from "../../src/cgroups/index.js";

const skip = process.getuid?.() !== 0 ? "needs root" : detectCgroupMode() !== "v1" ? "needs a cgroup v1 host" : false;
const MiB = 1024 * 1024;

const read = (dir: string | undefined, file: string) => fs.readFileSync(path.join(dir!, file), "utf8").trim();

describe("cgroups v1 on the real kernel", { skip }, () => {
  it("limits, joins, freezes, kills and removes a cgroup", async (t) => {
    const id = randomBytes(6).toString("hex");
    const m = cgroupManager({ cgroupsPath: `/berth-test/${id}`, containerId: id });
    const p = m.paths();
    const leaves = Object.values(p);
    // /berth-test is ours to remove only where it did not exist before.
    const newParents = [...new Set(leaves.map((d) => path.dirname(d)))].filter((d) => !fs.existsSync(d));
    let child: ChildProcess | undefined;
    t.after(() => {
      if (child?.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      try {
        m.thaw();
      } catch {
        // Not created, or no freezer.
      }
      try {
        m.destroy();
      } catch {
        // Reported by the assertions below when the test itself got that far.
      }
      for (const d of [...leaves, ...newParents]) fs.rmSync(d, { recursive: false, force: true, maxRetries: 3 });
    });

    m.create();
    assert.equal(read(p["cpuset"], "cpuset.cpus"), read(path.dirname(p["cpuset"]!), "cpuset.cpus"), "cpuset inherited");

    m.apply({
      memory: { limit: 64 * MiB, swap: 128 * MiB },
      pids: { limit: 32 },
      cpu: { quota: 50000, period: 100000, cpus: "0", mems: "0" },
      devices: [
        { allow: false, access: "rwm" },
        { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
      ],
    });
    assert.equal(read(p["memory"], "memory.limit_in_bytes"), "67108864");
    assert.equal(read(p["memory"], "memory.memsw.limit_in_bytes"), "134217728");
    assert.equal(read(p["pids"], "pids.max"), "32");
    assert.equal(read(p["cpu"], "cpu.cfs_quota_us"), "50000");
    assert.equal(read(p["cpu"], "cpu.cfs_period_us"), "100000");
    assert.equal(read(p["cpuset"], "cpuset.cpus"), "0");
    assert.equal(read(p["devices"], "devices.list"), "c 1:3 rwm");

    child = spawn("sleep", ["30"], { stdio: "ignore" });
    await once(child, "spawn");
    const pid = child.pid!;
    m.addProcess(pid);
    assert.ok(m.pids().includes(pid), `pids() ${m.pids()} includes ${pid}`);
    assert.match(fs.readFileSync(`/proc/${pid}/cgroup`, "utf8"), new RegExp(`:memory:/berth-test/${id}$`, "m"));
    const stats = m.stats();
    assert.equal(stats.memory.limit, 64 * MiB);
    assert.deepEqual(stats.pids, { current: 1, limit: 32 });

    m.freeze();
    assert.equal(read(p["freezer"], "freezer.state"), "FROZEN");
    assert.ok(m.isFrozen());
    m.thaw();
    assert.equal(read(p["freezer"], "freezer.state"), "THAWED");
    assert.equal(m.isFrozen(), false);

    const exited = once(child, "exit");
    m.killAll();
    const [, signal] = await exited;
    assert.equal(signal, "SIGKILL");

    m.destroy();
    for (const d of [...leaves, ...newParents]) assert.equal(fs.existsSync(d), false, `${d} removed`);
  });
});
