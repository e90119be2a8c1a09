// One suite for both cgroup drivers, run against fixture hierarchies in a tmp dir:
// a fake mountinfo points each "mount" at a directory, and the test plays the kernel
// by creating the files a new cgroup would have.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { cgroupManager, type CgroupManager, type CgroupMode, type CgroupOptions } from "../../src/cgroups/index.js";
import { makeCgroupDirs } from "../../src/cgroups/dirs.js";
import { fileError } from "../../src/cgroups/files.js";
import { BerthError } from "../../src/errors.js";
import type { LinuxResources } from "../../src/oci/runtime-spec.js";

const UNLIMITED = "9223372036854771712";
const MiB = 1024 * 1024;

// Files the kernel puts in a new cgroup, per v1 controller.
const V1_FILES: Record<string, Record<string, string>> = {
  memory: {
    "memory.limit_in_bytes": UNLIMITED,
    "memory.memsw.limit_in_bytes": UNLIMITED,
    "memory.soft_limit_in_bytes": UNLIMITED,
    "memory.swappiness": "60",
    "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\n",
    "memory.usage_in_bytes": "1234",
    "memory.max_usage_in_bytes": "5678",
  },
  cpu: {
    "cpu.shares": "1024",
    "cpu.cfs_quota_us": "-1",
    "cpu.cfs_period_us": "100000",
    "cpu.cfs_burst_us": "0",
    "cpu.idle": "0",
    "cpu.rt_period_us": "1000000",
    "cpu.rt_runtime_us": "0",
    "cpu.stat": "nr_periods 10\nnr_throttled 3\nthrottled_time 0\n",
  },
  cpuacct: { "cpuacct.usage": "42" },
  cpuset: { "cpuset.cpus": "", "cpuset.mems": "" },
  pids: { "pids.max": "max", "pids.current": "2" },
  devices: { "devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm" },
  freezer: { "freezer.state": "THAWED" },
  blkio: {
    "blkio.weight": "500",
    "blkio.weight_device": "",
    "blkio.throttle.read_bps_device": "",
    "blkio.throttle.write_bps_device": "",
    "blkio.throttle.read_iops_device": "",
    "blkio.throttle.write_iops_device": "",
  },
  hugetlb: { "hugetlb.2MB.limit_in_bytes": UNLIMITED },
};
const V2_CONTROLLERS = "cpuset cpu io memory hugetlb pids";
const V2_FILES: Record<string, string> = {
  "cgroup.controllers": V2_CONTROLLERS,
  "cgroup.subtree_control": "",
  "cgroup.freeze": "0",
  "cgroup.events": "populated 0\nfrozen 0\n",
  "memory.max": "max",
  "memory.swap.max": "max",
  "memory.low": "0",
  "memory.high": "max",
  "memory.current": "1234",
  "memory.peak": "5678",
  "cpu.weight": "100",
  "cpu.max": "max 100000",
  "cpu.max.burst": "0",
  "cpu.idle": "0",
  "cpu.stat": "usage_usec 42\nnr_periods 10\nnr_throttled 3\n",
  "cpuset.cpus": "",
  "cpuset.mems": "",
  "pids.max": "max",
  "pids.current": "2",
  "io.weight": "default 100",
  "io.max": "",
  "hugetlb.2MB.max": "max",
};

/** Every setting the two drivers share, and what each must write for it. */
const RESOURCES: LinuxResources = {
  memory: { limit: 64 * MiB, reservation: 32 * MiB, swap: 128 * MiB },
  cpu: { shares: 512, quota: 50000, period: 100000, cpus: "0", mems: "0" },
  pids: { limit: 32 },
  blockIO: { weight: 500, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: MiB }] },
  hugepageLimits: [{ pageSize: "2MB", limit: 2 * MiB }],
};
const EXPECTED: Record<CgroupMode, Record<string, string>> = {
  v1: {
    "memory/berth/c1/memory.limit_in_bytes": String(64 * MiB),
    "memory/berth/c1/memory.memsw.limit_in_bytes": String(128 * MiB),
    "memory/berth/c1/memory.soft_limit_in_bytes": String(32 * MiB),
    "cpu/berth/c1/cpu.shares": "512",
    "cpu/berth/c1/cpu.cfs_period_us": "100000",
    "cpu/berth/c1/cpu.cfs_quota_us": "50000",
    "cpuset/berth/c1/cpuset.cpus": "0",
    "cpuset/berth/c1/cpuset.mems": "0",
    "pids/berth/c1/pids.max": "32",
    "blkio/berth/c1/blkio.weight": "500",
    "blkio/berth/c1/blkio.throttle.read_bps_device": "8:0 1048576",
    "hugetlb/berth/c1/hugetlb.2MB.limit_in_bytes": String(2 * MiB),
  },
  v2: {
    "unified/berth/c1/memory.max": String(64 * MiB),
    "unified/berth/c1/memory.swap.max": String(64 * MiB), // memory+swap minus memory
    "unified/berth/c1/memory.low": String(32 * MiB),
    "unified/berth/c1/cpu.weight": "20", // 1 + (512-2)*9999/262142
    "unified/berth/c1/cpu.max": "50000 100000",
    "unified/berth/c1/cpuset.cpus": "0",
    "unified/berth/c1/cpuset.mems": "0",
    "unified/berth/c1/pids.max": "32",
    "unified/berth/c1/io.weight": "4950", // 1 + (500-10)*9999/990
    "unified/berth/c1/io.max": "8:0 rbps=1048576",
    "unified/berth/c1/hugetlb.2MB.max": String(2 * MiB),
  },
};

const V1_MOUNTS = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "hugetlb"];

class Fixture {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), "berth-cgroups-"));
  /** Writes as (path below root, value), in order. */
  writes: [string, string][] = [];

  constructor(
    readonly mode: CgroupMode,
    readonly v1Mounts = V1_MOUNTS,
  ) {
    if (mode === "v1") {
      for (const c of v1Mounts) this.mkdir(path.join(this.root, c), {});
      if (v1Mounts.includes("cpuset")) this.mkdir(path.join(this.root, "cpuset"), { "cpuset.cpus": "0-1", "cpuset.mems": "0" });
    }
    this.mkdir(path.join(this.root, "unified"), mode === "v2" ? { "cgroup.controllers": V2_CONTROLLERS, "cgroup.subtree_control": "" } : {});
  }

  get mountinfo(): string {
    const lines = [`31 23 0:28 / ${this.root} rw,relatime - tmpfs tmpfs rw,mode=755`];
    if (this.mode === "v1") {
      this.v1Mounts.forEach((c, i) => lines.push(`${32 + i} 31 0:${29 + i} / ${this.root}/${c} rw,relatime - cgroup cgroup rw,${c}`));
    }
    lines.push(`50 31 0:50 / ${this.root}/unified rw,relatime - cgroup2 cgroup2 rw`);
    return lines.join("\n") + "\n";
  }

  opts(extra: Partial<CgroupOptions> = {}): CgroupOptions {
    return {
      containerId: "c1",
      mode: this.mode,
      mountinfo: this.mountinfo,
      procSelfCgroup: "4:memory:/process_api/abc\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/user.slice/me\n",
      trace: (file, value) => this.writes.push([path.relative(this.root, file), value]),
      ...extra,
    };
  }

  /** What the kernel needs before create(): a v1 cpuset cgroup is born with empty cpus and mems. */
  prepare(m: CgroupManager): void {
    const dir = m.paths()["cpuset"];
    if (!dir) return;
    for (let d = dir; d !== path.join(this.root, "cpuset"); d = path.dirname(d)) {
      this.mkdir(d, { "cpuset.cpus": "", "cpuset.mems": "" });
    }
  }

  /** The files the kernel shows in a new cgroup. */
  populate(m: CgroupManager, overrides: Record<string, string> = {}): void {
    for (const [controller, dir] of Object.entries(m.paths())) {
      this.mkdir(dir, { ...(this.mode === "v1" ? V1_FILES[controller] : V2_FILES), ...overrides });
    }
    this.writes = [];
  }

  /** Plain directories are not cgroupfs: drop the files so rmdir behaves as on the kernel. */
  dropFiles(dir = this.root): void {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) this.dropFiles(p);
      else if (path.dirname(dir) !== this.root) fs.rmSync(p); // keep the mounts' own files
    }
  }

  /** Every directory below the mounts. */
  dirs(): string[] {
    const out: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (!e.isDirectory()) continue;
        out.push(path.relative(this.root, path.join(d, e.name)));
        walk(path.join(d, e.name));
      }
    };
    walk(this.root);
    return out.sort();
  }

  read(rel: string): string {
    return fs.readFileSync(path.join(this.root, rel), "utf8");
  }

  write(rel: string, content: string): void {
    fs.writeFileSync(path.join(this.root, rel), content);
  }

  cleanup(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  private mkdir(dir: string, files: Record<string, string>): void {
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, content] of Object.entries({ "cgroup.procs": "", ...files })) {
      if (!fs.existsSync(path.join(dir, name))) fs.writeFileSync(path.join(dir, name), content);
    }
  }
}

function kind(k: string, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof BerthError, `expected a BerthError, got ${String(err)}`);
    assert.equal(err.kind, k, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}

for (const mode of ["v1", "v2"] as const) {
  describe(`cgroups ${mode} driver`, () => {
    let fx: Fixture;
    beforeEach(() => {
      fx = new Fixture(mode);
    });
    afterEach(() => fx.cleanup());

    const leaf = (c: string) => path.join(fx.root, mode === "v1" ? c : "unified", "berth", "c1");

    it("defaults to /berth/<id> below each hierarchy's root", () => {
      const m = cgroupManager(fx.opts());
      assert.equal(m.mode, mode);
      if (mode === "v1") {
        assert.deepEqual(m.paths(), Object.fromEntries(V1_MOUNTS.map((c) => [c, path.join(fx.root, c, "berth", "c1")])));
      } else {
        assert.deepEqual(m.paths(), { unified: path.join(fx.root, "unified", "berth", "c1") });
      }
    });

    it("resolves absolute paths from the hierarchy root and relative ones from our own cgroup", () => {
      const abs = cgroupManager(fx.opts({ cgroupsPath: "/a/./b/" })).paths();
      const rel = cgroupManager(fx.opts({ cgroupsPath: "c/d" })).paths();
      if (mode === "v1") {
        assert.equal(abs["memory"], path.join(fx.root, "memory/a/b"));
        assert.equal(rel["memory"], path.join(fx.root, "memory/process_api/abc/c/d"));
        assert.equal(rel["cpu"], path.join(fx.root, "cpu/c/d"));
      } else {
        assert.equal(abs["unified"], path.join(fx.root, "unified/a/b"));
        assert.equal(rel["unified"], path.join(fx.root, "unified/user.slice/me/c/d"));
      }
    });

    it("strips the mount's root from our own cgroup (nested containers)", () => {
      const mountinfo = fx.mountinfo.replace(/ \/ (\S+\/(memory|unified)) /g, " /process_api $1 ");
      const procSelfCgroup = "4:memory:/process_api/abc\n0::/process_api/abc\n";
      const p = cgroupManager(fx.opts({ cgroupsPath: "x", mountinfo, procSelfCgroup })).paths();
      assert.equal(mode === "v1" ? p["memory"] : p["unified"], path.join(fx.root, mode === "v1" ? "memory" : "unified", "abc/x"));
    });

    it("rejects '..', the root cgroup and systemd paths", () => {
      assert.throws(() => cgroupManager(fx.opts({ cgroupsPath: "/a/../../etc" })), kind("InvalidArgument", /"\.\."/));
      assert.throws(() => cgroupManager(fx.opts({ cgroupsPath: "../x" })), kind("InvalidArgument", /"\.\."/));
      assert.throws(() => cgroupManager(fx.opts({ cgroupsPath: "/" })), kind("InvalidArgument"));
      assert.throws(() => cgroupManager(fx.opts({ cgroupsPath: undefined, containerId: ".." })), kind("InvalidArgument"));
      assert.throws(() => cgroupManager(fx.opts({ cgroupsPath: "system.slice:berth:c1" })), kind("Unavailable", /systemd/));
    });

    it("writes exactly the expected files for linux.resources", () => {
      const m = cgroupManager(fx.opts());
      fx.prepare(m);
      m.create();
      fx.populate(m);
      m.apply(RESOURCES);
      assert.deepEqual(Object.fromEntries(fx.writes), EXPECTED[mode]);
      for (const [file, value] of Object.entries(EXPECTED[mode])) assert.equal(fx.read(file), value, file);
    });

    it("creates every level, is idempotent, and destroy removes exactly what it made", () => {
      const before = fx.dirs();
      const m = cgroupManager(fx.opts());
      fx.prepare(m);
      const prepared = fx.dirs();
      m.create();
      m.create();
      const leaves = Object.values(m.paths());
      for (const dir of leaves) assert.ok(fs.statSync(dir).isDirectory(), dir);
      fx.populate(m);
      fx.dropFiles();
      m.destroy();
      for (const dir of leaves) assert.equal(fs.existsSync(dir), false, dir);
      // Parents made by create() are gone too; those that existed before (the v1 cpuset chain) stay.
      const expected = prepared.filter((d) => !leaves.includes(path.join(fx.root, d)));
      assert.deepEqual(fx.dirs(), expected);
      if (mode === "v2") assert.deepEqual(fx.dirs(), before);
      m.destroy(); // already gone: fine
    });

    it("removes sub-cgroups the container made, deepest first", () => {
      const m = cgroupManager(fx.opts());
      fx.prepare(m);
      m.create();
      for (const dir of Object.values(m.paths())) fs.mkdirSync(path.join(dir, "inner", "deeper"), { recursive: true });
      fx.dropFiles();
      m.destroy();
      for (const dir of Object.values(m.paths())) assert.equal(fs.existsSync(dir), false, dir);
    });

    it("validates values before writing anything", () => {
      const m = cgroupManager(fx.opts());
      fx.prepare(m);
      m.create();
      fx.populate(m);
      assert.throws(() => m.apply({ memory: { limit: MiB }, pids: { limit: 1.5 } }), kind("InvalidArgument", /pids\.limit/));
      assert.throws(
        () => m.apply({ memory: { limit: MiB }, hugepageLimits: [{ pageSize: "2M/../x", limit: 1 }] }),
        kind("InvalidArgument", /hugepageLimits/),
      );
      assert.deepEqual(fx.writes, []);
    });

    it("refuses to apply to or join a cgroup that was not created", () => {
      const m = cgroupManager(fx.opts());
      assert.throws(() => m.apply({ pids: { limit: 5 } }), kind("NotFound"));
      assert.throws(() => m.addProcess(4242), kind("NotFound"));
    });

    it("writes unlimited memory and pids", () => {
      const m = cgroupManager(fx.opts());
      fx.prepare(m);
      m.create();
      fx.populate(m);
      m.apply({ memory: { limit: -1 }, pids: { limit: 0 } });
      assert.deepEqual(
        Object.fromEntries(fx.writes),
        mode === "v1"
          ? {
              "memory/berth/c1/memory.limit_in_bytes": "-1",
              "memory/berth/c1/memory.memsw.limit_in_bytes": "-1",
              "pids/berth/c1/pids.max": "max",
            }
          : { "unified/berth/c1/memory.swap.max": "max", "unified/berth/c1/memory.max": "max", "unified/berth/c1/pids.max": "max" },
      );
    });

    it("adds a process to every controller and lists pids", () => {
      const m = cgroupManager(fx.opts());
      fx.prepare(m);
      m.create();
      fx.populate(m);
      m.addProcess(4242);
      const expected = mode === "v1" ? V1_MOUNTS.map((c) => `${c}/berth/c1/cgroup.procs`) : ["unified/berth/c1/cgroup.procs"];
      assert.deepEqual(fx.writes.map(([f]) => f).sort(), expected.sort());
      assert.deepEqual(fx.writes.map(([, v]) => v), expected.map(() => "4242"));
      fs.mkdirSync(path.join(leaf("pids"), "inner"));
      fx.write(path.relative(fx.root, path.join(leaf("pids"), "inner", "cgroup.procs")), "77\n");
      assert.deepEqual(m.pids(), [4242, 77]);
      assert.throws(() => m.addProcess(-1), kind("InvalidArgument"));
    });

    it("reports stats, with -1 / 0 for unlimited", () => {
      const m = cgroupManager(fx.opts());
      fx.prepare(m);
      m.create();
      fx.populate(m);
      assert.deepEqual(m.stats(), {
        memory: { usage: 1234, limit: -1, maxUsage: 5678 },
        cpu: { usageNanos: mode === "v1" ? 42 : 42000, throttledPeriods: 3 },
        pids: { current: 2, limit: 0 },
      });
      m.apply({ memory: { limit: 64 * MiB }, pids: { limit: 32 } });
      const s = m.stats();
      assert.equal(s.memory.limit, 64 * MiB);
      assert.equal(s.pids.limit, 32);
    });

    it("reports the inactive page cache and block I/O bytes (what berth stats shows)", () => {
      const m = cgroupManager(fx.opts());
      fx.prepare(m);
      m.create();
      if (mode === "v1") {
        fx.populate(m, {
          "memory.stat": "cache 8192\ninactive_file 100\ntotal_inactive_file 4096\n",
          // no CFQ/BFQ numbers: the throttle layer's are used
          "blkio.io_service_bytes_recursive": "Total 0\n",
          "blkio.throttle.io_service_bytes_recursive": "8:0 Read 1000\n8:0 Write 24\n8:16 Read 5\n8:16 Sync 3\nTotal 1032\n",
        });
      } else {
        fx.populate(m, { "memory.stat": "anon 1\ninactive_file 4096\n", "io.stat": "8:0 rbytes=1000 wbytes=24 rios=3 wios=1\n8:16 rbytes=5 wbytes=0 rios=1 wios=0\n" });
      }
      const s = m.stats();
      assert.equal(s.memory.inactiveFile, 4096);
      assert.deepEqual(s.io, { readBytes: 1005, writeBytes: 24 });
    });

    it("freezes and thaws", () => {
      const m = cgroupManager(fx.opts());
      fx.prepare(m);
      m.create();
      // The v2 fixture cannot change cgroup.events by itself: say it is frozen already.
      fx.populate(m, mode === "v2" ? { "cgroup.events": "populated 1\nfrozen 1\n" } : {});
      m.freeze();
      assert.ok(m.isFrozen());
      const state = mode === "v1" ? "freezer/berth/c1/freezer.state" : "unified/berth/c1/cgroup.freeze";
      assert.equal(fx.read(state), mode === "v1" ? "FROZEN" : "1");
      m.thaw();
      assert.equal(fx.read(state), mode === "v1" ? "THAWED" : "0");
      if (mode === "v1") assert.equal(m.isFrozen(), false);
    });

    it("killAll with an empty cgroup signals nobody and leaves it thawed", () => {
      const m = cgroupManager(fx.opts());
      fx.prepare(m);
      m.create();
      fx.populate(m, mode === "v2" ? { "cgroup.events": "populated 0\nfrozen 1\n" } : {});
      m.killAll();
      assert.equal(fx.read(mode === "v1" ? "freezer/berth/c1/freezer.state" : "unified/berth/c1/cgroup.freeze"), mode === "v1" ? "THAWED" : "0");
    });
  });
}

describe("cgroups v1 only", () => {
  let fx: Fixture;
  beforeEach(() => {
    fx = new Fixture("v1");
  });
  afterEach(() => fx.cleanup());

  function ready(f: Fixture, overrides: Record<string, string> = {}): CgroupManager {
    const m = cgroupManager(f.opts());
    f.prepare(m);
    m.create();
    f.populate(m, overrides);
    return m;
  }

  it("copies cpuset.cpus and cpuset.mems from the parent into a new cpuset", () => {
    ready(fx);
    assert.equal(fx.read("cpuset/berth/cpuset.cpus"), "0-1");
    assert.equal(fx.read("cpuset/berth/c1/cpuset.cpus"), "0-1");
    assert.equal(fx.read("cpuset/berth/c1/cpuset.mems"), "0");
  });

  it("rolls back every directory when create fails part-way", () => {
    const before = fx.dirs();
    const m = cgroupManager(fx.opts());
    // No prepare(): the new cpuset has no cpuset.cpus, as if the kernel refused it.
    assert.throws(() => m.create(), kind("Unavailable", /cpuset\.cpus/));
    assert.deepEqual(fx.dirs(), before);
  });

  it("orders memory and memsw writes so memsw >= limit at every step", () => {
    const m = ready(fx);
    // From unlimited down: the limit first.
    m.apply({ memory: { limit: 64 * MiB, swap: 128 * MiB } });
    assert.deepEqual(fx.writes.map(([f]) => path.basename(f)), ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]);
    // Raising past the current limit: memsw first.
    fx.writes = [];
    m.apply({ memory: { limit: 256 * MiB, swap: 512 * MiB } });
    assert.deepEqual(fx.writes.map(([f]) => path.basename(f)), ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]);
    // Lowering: the limit first.
    fx.writes = [];
    m.apply({ memory: { limit: 32 * MiB, swap: 64 * MiB } });
    assert.deepEqual(fx.writes.map(([f]) => path.basename(f)), ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]);
  });

  it("writes swappiness and the OOM killer switch, and rejects swappiness > 100", () => {
    const m = ready(fx);
    m.apply({ memory: { swappiness: 10, disableOOMKiller: true } });
    assert.deepEqual(fx.writes, [
      ["memory/berth/c1/memory.oom_control", "1"],
      ["memory/berth/c1/memory.swappiness", "10"],
    ]);
    assert.throws(() => m.apply({ memory: { swappiness: 101 } }), kind("InvalidArgument", /swappiness/));
  });

  it("denies all devices, then writes each rule in order", () => {
    const m = ready(fx);
    m.apply({
      devices: [
        { allow: false, access: "rwm" },
        { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
        { allow: true, type: "c", major: 136, minor: null, access: "rw" },
        { allow: false, type: "a", major: 5, access: "m" },
      ],
    });
    assert.deepEqual(fx.writes, [
      ["devices/berth/c1/devices.deny", "a"],
      ["devices/berth/c1/devices.deny", "a"],
      ["devices/berth/c1/devices.allow", "c 1:3 rwm"],
      ["devices/berth/c1/devices.allow", "c 136:* rw"],
      ["devices/berth/c1/devices.deny", "c 5:* m"],
      ["devices/berth/c1/devices.deny", "b 5:* m"],
    ]);
    assert.throws(() => m.apply({ devices: [{ allow: true, type: "x" }] }), kind("InvalidArgument", /devices/));
  });

  it("writes cpu realtime, idle and burst", () => {
    const m = ready(fx);
    m.apply({ cpu: { realtimePeriod: 1000000, realtimeRuntime: 950000, idle: 1, burst: 1000 } });
    assert.deepEqual(Object.fromEntries(fx.writes), {
      "cpu/berth/c1/cpu.cfs_burst_us": "1000",
      "cpu/berth/c1/cpu.idle": "1",
      "cpu/berth/c1/cpu.rt_period_us": "1000000",
      "cpu/berth/c1/cpu.rt_runtime_us": "950000",
    });
  });

  it("names the setting when its controller is not mounted, and ignores absent controllers otherwise", () => {
    fx.cleanup();
    fx = new Fixture("v1", V1_MOUNTS.filter((c) => c !== "hugetlb"));
    const m = ready(fx);
    assert.equal(m.paths()["hugetlb"], undefined);
    assert.throws(
      () => m.apply({ memory: { limit: MiB }, hugepageLimits: [{ pageSize: "2MB", limit: MiB }] }),
      kind("Unavailable", /hugepageLimits.*hugetlb.*not mounted/),
    );
    assert.deepEqual(fx.writes, []);
    m.apply({ memory: { limit: MiB } });
    assert.deepEqual(fx.writes, [["memory/berth/c1/memory.limit_in_bytes", String(MiB)]]);
    assert.throws(() => m.apply({ network: { classID: 1 } }), kind("Unavailable", /network\.classID.*net_cls/));
  });

  it("names blkio.weight when the host has no weight-based I/O scheduler", () => {
    const m = cgroupManager(fx.opts());
    fx.prepare(m);
    m.create();
    fx.populate(m);
    fs.rmSync(path.join(m.paths()["blkio"]!, "blkio.weight"));
    assert.throws(() => m.apply({ blockIO: { weight: 300 } }), kind("Unavailable", /blockIO\.weight/));
  });

  it("rejects unified settings", () => {
    const m = ready(fx);
    assert.throws(() => m.apply({ unified: { "memory.high": "1" } }), kind("InvalidArgument", /unified.*v2/));
  });

  it("shares one directory between co-mounted cpu,cpuacct", () => {
    const mountinfo = fx.mountinfo
      .replace(/^.* cgroup rw,cpuacct\n/m, "")
      .replace(/ rw,cpu$/m, " rw,cpu,cpuacct");
    const m = cgroupManager(fx.opts({ mountinfo }));
    assert.equal(m.paths()["cpu"], m.paths()["cpuacct"]);
    fx.prepare(m);
    m.create();
    fx.populate(m);
    m.addProcess(7);
    assert.equal(fx.writes.filter(([f]) => f.startsWith("cpu/")).length, 1);
  });
});

describe("cgroups v2 only", () => {
  let fx: Fixture;
  beforeEach(() => {
    fx = new Fixture("v2");
  });
  afterEach(() => fx.cleanup());

  function ready(overrides: Record<string, string> = {}): CgroupManager {
    const m = cgroupManager(fx.opts());
    m.create();
    fx.populate(m, overrides);
    return m;
  }

  it("enables the parent's controllers for its children", () => {
    const m = cgroupManager(fx.opts());
    m.create();
    assert.equal(fx.read("unified/cgroup.subtree_control"), "+cpuset +cpu +io +memory +hugetlb +pids");
  });

  it("writes unified keys last and checks them", () => {
    const m = ready();
    m.apply({ pids: { limit: 3 }, unified: { "memory.high": "1000", "pids.max": "9" } });
    assert.deepEqual(fx.writes, [
      ["unified/berth/c1/pids.max", "3"],
      ["unified/berth/c1/memory.high", "1000"],
      ["unified/berth/c1/pids.max", "9"],
    ]);
    assert.throws(() => m.apply({ unified: { "../escape": "1" } }), kind("InvalidArgument"));
    assert.throws(() => m.apply({ unified: { "rdma.max": "x" } }), kind("Unavailable", /rdma controller/));
  });

  it("converts swap: equal to the limit means no swap, -1 means max", () => {
    const m = ready();
    m.apply({ memory: { limit: MiB, swap: MiB } });
    m.apply({ memory: { limit: MiB, swap: -1 } });
    assert.deepEqual(
      fx.writes.filter(([f]) => f.endsWith("swap.max")).map(([, v]) => v),
      ["0", "max"],
    );
    assert.throws(() => m.apply({ memory: { limit: 2 * MiB, swap: MiB } }), kind("InvalidArgument", /swap/));
  });

  it("names settings cgroup v2 cannot apply", () => {
    const m = ready();
    assert.throws(() => m.apply({ devices: [{ allow: false, access: "rwm" }] }), kind("Unavailable", /devices.*eBPF/));
    assert.throws(() => m.apply({ memory: { swappiness: 10 } }), kind("InvalidArgument", /swappiness/));
    assert.throws(() => m.apply({ cpu: { realtimeRuntime: 5 } }), kind("InvalidArgument", /realtime/));
    assert.deepEqual(fx.writes, []);
  });

  it("names the setting when its controller is not enabled in the cgroup", () => {
    const m = ready({ "cgroup.controllers": "cpu memory pids" });
    assert.throws(
      () => m.apply({ pids: { limit: 1 }, hugepageLimits: [{ pageSize: "2MB", limit: MiB }] }),
      kind("Unavailable", /hugepageLimits.*hugetlb controller is not enabled/),
    );
    assert.deepEqual(fx.writes, []);
  });

  it("uses cgroup.kill for SIGKILL when the kernel has it", () => {
    const m = ready({ "cgroup.kill": "" });
    m.killAll();
    assert.deepEqual(fx.writes, [["unified/berth/c1/cgroup.kill", "1"]]);
  });

  it("thaws back and throws when the cgroup does not freeze in time", () => {
    const m = ready();
    assert.throws(() => m.freeze(), kind("FailedPrecondition", /did not freeze/));
    assert.equal(fx.read("unified/berth/c1/cgroup.freeze"), "0");
  });
});

describe("makeCgroupDirs", () => {
  let mount: string;
  beforeEach(() => {
    mount = fs.mkdtempSync(path.join(os.tmpdir(), "berth-cgdirs-"));
  });
  afterEach(() => {
    fs.rmSync(mount, { recursive: true, force: true });
  });
  // what visit does on a real hierarchy (inheritCpuset): read a file of the level, one-line error when it is gone
  const readLevel = (dir: string) => {
    try {
      fs.readdirSync(dir);
    } catch (err) {
      throw fileError(err, `reading ${dir}/cpuset.cpus`);
    }
  };

  it("starts again when another process's teardown removes a shared parent between its mkdir and the visit", () => {
    const shared = path.join(mount, "berth");
    fs.mkdirSync(shared); // there already: this create's mkdir says EEXIST
    const visits: string[] = [];
    let removed = false;
    const made: string[] = [];
    makeCgroupDirs(mount, path.join(shared, "c1"), made, (_parent, child) => {
      visits.push(path.relative(mount, child));
      if (child === shared && !removed) {
        removed = true;
        fs.rmdirSync(shared); // the last other container's teardown: the idle parent goes
      }
      readLevel(child);
    });
    assert.ok(fs.statSync(path.join(shared, "c1")).isDirectory());
    assert.deepEqual(visits, ["berth", "berth", "berth/c1"]);
    assert.deepEqual(made, [shared, path.join(shared, "c1")]);
  });

  it("does not retry a visit's error while the level is still there", () => {
    let visits = 0;
    assert.throws(
      () =>
        makeCgroupDirs(mount, path.join(mount, "berth"), [], () => {
          visits++;
          throw new BerthError("Unavailable", "cpuset: the kernel said no");
        }),
      /the kernel said no/,
    );
    assert.equal(visits, 1);
  });
});
