// Real engines using berth-oci as their OCI runtime, on both paths (Warm: native/build/berth-oci;
// Direct: bin/berth-oci): `podman --runtime` (Podman 4.3, conmon) and `ctr run --runc-binary`
// (containerd 1.6, containerd-shim-runc-v2). Needs root and the Debian packages podman and
// containerd; skipped with the reason otherwise. No registry: the image is a busybox-static
// rootfs imported into an isolated Podman store, and exported from it to our own containerd.
// test/engines/harness.ts says what is isolated and how.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type { Path } from "../helpers/oci.js";
import { CGROUP_LIMITS_SH, Engines, IMAGE, cgroupDirs, containerdSkip, hostMemoryLimit, mountsUnder, podmanSkip, processesMentioning } from "../engines/harness.js";


const podmanSkipped = podmanSkip();
const containerdSkipped = containerdSkip();
const modes: Path[] = ["warm", "direct"];

describe("real engines with berth-oci as their runtime", { skip: podmanSkipped && containerdSkipped ? podmanSkipped : false }, () => {
  let eng: Engines;
  before(() => {
    eng = new Engines();
  });
  after(() => eng?.teardown());

  for (const mode of modes)
  describe(`podman --runtime berth-oci (${mode})`, { skip: podmanSkipped }, () => {
    before(() => eng.setupPodman());
    const run = (args: string[], input?: string) => eng.podman(["run", ...eng.runOpts(mode), ...args], { input });
    const status = (name: string) => eng.podman(["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name]).stdout.trim();
    /** what berth-oci itself says of the container (through the wrapper Podman runs) */
    const runtimeState = (id: string) => {
      const r = eng.run(eng.podmanRuntime[mode], ["state", id]);
      return r.code === 0 ? (JSON.parse(r.stdout) as { status: string }).status : `state failed: ${r.stderr}`;
    };

    test("run --rm: a plain command's output and exit status", () => {
      const r = run(["--rm", IMAGE, "sh", "-c", "echo hello from berth; exit 7"]);
      assert.equal(r.code, 7, r.stderr);
      assert.equal(r.stdout, "hello from berth\n");
    });

    test("run --rm: a missing program is Podman's 127, with berth-oci's error", () => {
      const r = run(["--rm", IMAGE, "/no/such/program"]);
      assert.equal(r.code, 127, r.stderr);
      assert.match(r.stderr, /no\/such\/program.*no such file or directory/);
    });

    test("run -i: stdin reaches the container", () => {
      const r = run(["--rm", "-i", IMAGE, "sh", "-c", "tr a-z A-Z"], "piped in\n");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "PIPED IN\n");
    });

    // Podman attaches to conmon after `start`: what a program writes at once may be lost
    // (runc too, ~1 run in 15), so the programs on a terminal wait a little first
    test("run -it: the program gets a terminal (--console-socket)", () => {
      const r = eng.onTerminal(eng.podmanLine(["run", ...eng.runOpts(mode), "--rm", "-it", IMAGE, "sh", "-c", "sleep 0.3; tty; test -t 0 && echo stdin-is-a-tty; exit 5"]));
      assert.equal(r.code, 5, r.stdout + r.stderr);
      assert.match(r.stdout, /^\/dev\/pts\/\d+$/m);
      assert.match(r.stdout, /^stdin-is-a-tty$/m);
    });

    test("run -d, exec, exec -it, pause/unpause, update, stop", () => {
      const name = `berth-${mode}-life`;
      const started = run(["-d", "--name", name, "--memory", "64m", IMAGE, "sh", "-c", 'trap "echo got TERM; exit 0" TERM; while :; do sleep 0.1; done']);
      assert.equal(started.code, 0, started.stderr);
      const id = started.stdout.trim();
      assert.equal(status(name), "running 0");
      assert.equal(runtimeState(id), "running");

      const exec = eng.podman(["exec", name, "sh", "-c", "echo exec in $(hostname); exit 3"]);
      assert.equal(exec.code, 3, exec.stderr);
      assert.equal(exec.stdout, `exec in ${id.slice(0, 12)}\n`);

      const tty = eng.onTerminal(eng.podmanLine(["exec", "-it", name, "sh", "-c", "sleep 0.3; tty; exit 2"]));
      assert.equal(tty.code, 2, tty.stdout + tty.stderr);
      assert.match(tty.stdout, /^\/dev\/pts\/\d+$/m);

      const pause = eng.podman(["pause", name]);
      assert.equal(pause.code, 0, pause.stderr);
      assert.equal(status(name), "paused 0");
      assert.equal(runtimeState(id), "paused");
      const unpause = eng.podman(["unpause", name]);
      assert.equal(unpause.code, 0, unpause.stderr);
      assert.equal(status(name), "running 0");
      assert.equal(runtimeState(id), "running");

      const update = eng.podman(["update", "--memory", "96m", name]);
      assert.equal(update.code, 0, update.stderr);
      const limit = eng.podman(["exec", name, "sh", "-c", CGROUP_LIMITS_SH]);
      assert.equal(limit.stdout.split("\n")[0], String(96 * 1024 * 1024), limit.stderr);

      // the program handles TERM: stop is quick, and its exit status is the program's
      const stop = eng.podman(["stop", "--time", "10", name]);
      assert.equal(stop.code, 0, stop.stderr);
      assert.ok(stop.ms < 5000, `stop took ${Math.round(stop.ms)} ms`);
      assert.equal(status(name), "exited 0");
      assert.equal(eng.podman(["logs", name]).stdout, "got TERM\n");
      assert.equal(eng.podman(["rm", name]).code, 0);
    });

    test("stop: a program that ignores TERM is killed after --time", () => {
      const name = `berth-${mode}-stubborn`;
      assert.equal(run(["-d", "--name", name, IMAGE, "sleep", "1000"]).code, 0);
      const stop = eng.podman(["stop", "--time", "1", name]);
      assert.equal(stop.code, 0, stop.stderr);
      assert.ok(stop.ms >= 900 && stop.ms < 6000, `stop took ${Math.round(stop.ms)} ms`);
      assert.equal(status(name), "exited 137");
      assert.equal(eng.podman(["rm", name]).code, 0);
    });

    test("--memory 64m and --pids-limit 32 are the container's cgroup limits", () => {
      const r = run(["--rm", "--memory", "64m", "--pids-limit", "32", IMAGE, "sh", "-c", CGROUP_LIMITS_SH]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split("\n"), [String(64 * 1024 * 1024), "32"]);
    });

    test("Podman's default seccomp profile is enforced", () => {
      const r = run(["--rm", IMAGE, "grep", "^Seccomp:", "/proc/self/status"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "Seccomp:\t2\n");
    });
  });

  for (const mode of modes)
  describe(`ctr run --runc-binary berth-oci (${mode})`, { skip: containerdSkipped }, () => {
    before(() => eng.setupContainerd());
    const taskStatus = (id: string) => eng.ctr(["task", "ls"]).stdout.split("\n").find((l) => l.startsWith(id + " "))?.trim().split(/\s+/)[2];

    test("run --rm: a plain command's output and exit status", () => {
      const r = eng.ctr(["run", "--rm", ...eng.ctrRunOpts(mode, "plain"), IMAGE, `${mode}-plain`, "sh", "-c", "echo hello from berth; exit 6"]);
      assert.equal(r.code, 6, r.stderr);
      assert.equal(r.stdout, "hello from berth\n");
    });

    test("run -t: the program gets a terminal (--console-socket)", () => {
      const r = eng.onTerminal(eng.ctrLine(["run", "--rm", "-t", ...eng.ctrRunOpts(mode, "tty"), IMAGE, `${mode}-tty`, "sh", "-c", "tty; exit 5"]));
      assert.equal(r.code, 5, r.stdout + r.stderr);
      assert.match(r.stdout, /^\/dev\/pts\/\d+$/m);
    });

    test("run -d, task exec, pause/resume, --memory-limit, kill, rm", () => {
      const id = `${mode}-life`;
      const opts = eng.ctrRunOpts(mode, "life");
      const cgroup = opts[opts.indexOf("--cgroup") + 1];
      const r = eng.ctr(["run", "-d", ...opts, "--memory-limit", String(64 * 1024 * 1024), IMAGE, id, "sleep", "1000"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(taskStatus(id), "RUNNING");
      assert.equal(hostMemoryLimit(cgroup), String(64 * 1024 * 1024));

      const exec = eng.ctr(["task", "exec", "--exec-id", "e1", id, "sh", "-c", "echo exec ok; exit 3"]);
      assert.equal(exec.code, 3, exec.stderr);
      assert.equal(exec.stdout, "exec ok\n");

      assert.equal(eng.ctr(["task", "pause", id]).code, 0);
      assert.equal(taskStatus(id), "PAUSED");
      assert.equal(eng.ctr(["task", "resume", id]).code, 0);
      assert.equal(taskStatus(id), "RUNNING");

      const kill = eng.ctr(["task", "kill", "--signal", "SIGKILL", id]);
      assert.equal(kill.code, 0, kill.stderr);
      for (let i = 0; i < 100 && taskStatus(id) !== "STOPPED"; i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      assert.equal(taskStatus(id), "STOPPED");
      assert.equal(eng.ctr(["task", "rm", id]).code, 0);
      assert.equal(eng.ctr(["container", "rm", id]).code, 0);
      assert.equal(existsSync(`/sys/fs/cgroup/memory${cgroup}`) || existsSync(`/sys/fs/cgroup${cgroup}/cgroup.procs`), false, "berth-oci delete removed the cgroup");
    });

    test("ctr run --seccomp: containerd's default profile is enforced", () => {
      const r = eng.ctr(["run", "--rm", "--seccomp", ...eng.ctrRunOpts(mode, "seccomp"), IMAGE, `${mode}-seccomp`, "grep", "^Seccomp:", "/proc/self/status"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "Seccomp:\t2\n");
    });
  });

  test("nothing is left behind: processes, mounts, cgroups, files", () => {
    const { dir, cgroupParent } = eng;
    eng.teardown();
    assert.deepEqual(processesMentioning(dir), []);
    assert.deepEqual(mountsUnder(dir), []);
    assert.deepEqual(cgroupDirs(cgroupParent), []);
    assert.equal(existsSync(dir), false);
  });
});
