// The lifecycle of runtime.md on a real kernel: create, state, start, kill, delete, list.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, readlinkSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { cgroupLeftovers, rootSkip, type Sandbox, sandbox } from "../helpers/oci.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const mode of ["direct", "warm"] as const)
describe(`berth-oci lifecycle (${mode})`, { skip: rootSkip }, () => {
  let box: Sandbox;
  before(() => {
    box = sandbox(mode);
  });
  after(() => box?.cleanup());

  const state = (id: string) => JSON.parse(box.oci(["state", id]).stdout) as { status: string; pid?: number; id: string; ociVersion: string; bundle: string };

  async function waitStatus(id: string, status: string) {
    for (let i = 0; i < 500; i++) {
      if (state(id).status === status) return;
      await sleep(10);
    }
    assert.fail(`container ${id} never became ${status} (is ${state(id).status})`);
  }

  test("create -> created (program not yet run), start -> running, exit -> stopped, delete -> gone", async () => {
    const marker = path.join(box.dir, "ran");
    const b = box.bundle("life", (s) => {
      s.process!.args = ["sh", "-c", "echo started > /out/ran; sleep 0.3"];
      s.mounts!.push({ destination: "/out", type: "bind", source: box.dir, options: ["rbind", "rw"] });
    });
    const pidFile = path.join(box.dir, "life.pid");
    const created = box.oci(["create", "--bundle", b, "--pid-file", pidFile, "life"]);
    assert.equal(created.code, 0, created.stderr);
    const s1 = state("life");
    assert.equal(s1.status, "created");
    assert.equal(s1.id, "life");
    assert.equal(s1.bundle, b);
    assert.match(s1.ociVersion, /^1\.\d+\.\d+/);
    assert.equal(Number(readFileSync(pidFile, "utf8")), s1.pid);
    assert.ok(existsSync(`/proc/${s1.pid}`));
    await sleep(100);
    assert.equal(existsSync(marker), false, "the user program must not run before start");

    assert.equal(box.oci(["start", "life"]).code, 0);
    assert.equal(state("life").status, "running");
    await waitStatus("life", "stopped");
    assert.equal(readFileSync(marker, "utf8"), "started\n");
    assert.equal(state("life").pid, undefined);

    const cgroupsPath = JSON.parse(readFileSync(path.join(b, "config.json"), "utf8")).linux.cgroupsPath as string;
    assert.ok(cgroupLeftovers(cgroupsPath).length > 0, "the cgroup exists until delete");
    const del = box.oci(["delete", "life"]);
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual(cgroupLeftovers(cgroupsPath), []);
    assert.equal(existsSync(path.join(box.root, "life")), false);
    const gone = box.oci(["state", "life"]);
    assert.equal(gone.code, 1);
    assert.equal(gone.stderr, 'berth-oci: container "life" does not exist\n');
  });

  test("kill delivers signals: a trapped TERM runs the handler, KILL stops it", async () => {
    const b = box.bundle("sig", (s) => {
      s.process!.args = ["sh", "-c", "trap 'echo got-usr1 > /out/usr1' USR1; while true; do sleep 0.05; done"];
      s.mounts!.push({ destination: "/out", type: "bind", source: box.dir, options: ["rbind", "rw"] });
    });
    assert.equal(box.oci(["run", "--detach", "--bundle", b, "sig"]).code, 0);
    assert.equal(state("sig").status, "running");
    assert.equal(box.oci(["kill", "sig", "USR1"]).code, 0);
    for (let i = 0; i < 200 && !existsSync(path.join(box.dir, "usr1")); i++) await sleep(10);
    assert.equal(readFileSync(path.join(box.dir, "usr1"), "utf8"), "got-usr1\n");
    assert.equal(state("sig").status, "running");
    assert.equal(box.oci(["kill", "sig", "9"]).code, 0);
    await waitStatus("sig", "stopped");
    const again = box.oci(["kill", "sig", "KILL"]);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, 'berth-oci: container "sig" is not running (status: stopped)\n');
    assert.equal(box.oci(["delete", "sig"]).code, 0);
  });

  test("kill --all signals every process in the container's cgroup", async () => {
    const b = box.bundle("all", (s) => {
      s.process!.args = ["sh", "-c", "sleep 100 & sleep 100 & wait"];
    });
    assert.equal(box.oci(["run", "-d", "--bundle", b, "all"]).code, 0);
    assert.equal(box.oci(["kill", "--all", "all", "SIGKILL"]).code, 0);
    await waitStatus("all", "stopped");
    assert.equal(box.oci(["delete", "all"]).code, 0);
  });

  test("run in the foreground exits 128+n when the container is killed by signal n", async () => {
    const b = box.bundle("fg", (s) => {
      s.process!.args = ["sleep", "30"];
    });
    const child = spawn(box.binary, ["--root", box.root, "run", "--bundle", b, "fg"], { stdio: "ignore", env: box.env });
    const exited = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    for (let i = 0; i < 500; i++) {
      const r = box.oci(["state", "fg"]);
      if (r.code === 0 && JSON.parse(r.stdout).status === "running") break;
      await sleep(10);
    }
    assert.equal(box.oci(["kill", "fg", "KILL"]).code, 0);
    assert.equal(await exited, 137);
    assert.equal(existsSync(path.join(box.root, "fg")), false, "run removes the container after it exits");
  });

  test("delete refuses a running container without --force; --force kills and removes it", async () => {
    const b = box.bundle("busy", (s) => {
      s.process!.args = ["sleep", "100"];
    });
    assert.equal(box.oci(["run", "-d", "--bundle", b, "busy"]).code, 0);
    const pid = state("busy").pid!;
    const r = box.oci(["delete", "busy"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'berth-oci: container "busy" is running; stop it first or use --force\n');
    assert.equal(state("busy").status, "running");
    assert.equal(box.oci(["delete", "--force", "busy"]).code, 0);
    assert.equal(existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("sleep"), false);
  });

  test("delete of a created container fails without --force (runtime.md); --force kills its waiting init", async () => {
    const b = box.bundle("never", (s) => {
      s.process!.args = ["true"];
    });
    assert.equal(box.oci(["create", "--bundle", b, "never"]).code, 0);
    const pid = state("never").pid!;
    const refused = box.oci(["delete", "never"]);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr, 'berth-oci: container "never" is created; stop it first or use --force\n');
    assert.equal(state("never").status, "created");
    assert.equal(box.oci(["delete", "--force", "never"]).code, 0);
    assert.equal(existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/stat`, "utf8").split(" ")[2] !== "Z", false);
  });

  test("the waiting init runs from a sealed memfd that cannot be written (CVE-2019-5736)", () => {
    const b = box.bundle("sealed", (s) => {
      s.process!.args = ["true"];
    });
    assert.equal(box.oci(["create", "--bundle", b, "sealed"]).code, 0);
    try {
      const pid = state("sealed").pid!;
      assert.match(readlinkSync(`/proc/${pid}/exe`), /^\/memfd:berth-runtime/);
      assert.throws(() => openSync(`/proc/${pid}/exe`, "r+"), /EPERM|ETXTBSY|EACCES/);
    } finally {
      box.oci(["delete", "--force", "sealed"]);
    }
  });

  test("list shows every container with its status, as a table and as JSON", async () => {
    const a = box.bundle("list-a", (s) => {
      s.process!.args = ["sleep", "100"];
    });
    const c = box.bundle("list-b", (s) => {
      s.process!.args = ["true"];
    });
    assert.equal(box.oci(["run", "-d", "--bundle", a, "list-a"]).code, 0);
    assert.equal(box.oci(["create", "--bundle", c, "list-b"]).code, 0);
    try {
      const json = JSON.parse(box.oci(["list", "--format", "json"]).stdout) as { id: string; status: string }[];
      assert.deepEqual(
        json.map((x) => [x.id, x.status]),
        [
          ["list-a", "running"],
          ["list-b", "created"],
        ],
      );
      const table = box.oci(["list"]).stdout.split("\n");
      assert.match(table[0], /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED$/);
      assert.match(table[1], /^list-a\s+\d+\s+running\s+/);
      assert.equal(box.oci(["list", "-q"]).stdout, "list-a\nlist-b\n");
    } finally {
      box.oci(["delete", "-f", "list-a"]);
      box.oci(["delete", "-f", "list-b"]);
    }
  });

  test("the container inherits the caller's stdio when there is no terminal", () => {
    const b = box.bundle("stdio", (s) => {
      s.process!.args = ["sh", "-c", "read line; echo \"got $line\"; echo err >&2"];
    });
    const r = box.oci(["run", "--bundle", b, "stdio"], { input: "hello\n" });
    assert.equal(r.stdout, "got hello\n");
    assert.equal(r.stderr, "err\n");
    assert.equal(r.code, 0);
  });

  test("spec writes runc's default config.json and refuses to overwrite it", () => {
    const d = path.join(box.dir, "bundles", "fresh");
    mkdirSync(d, { recursive: true });
    assert.equal(box.oci(["spec"], { cwd: d }).code, 0);
    const spec = JSON.parse(readFileSync(path.join(d, "config.json"), "utf8"));
    assert.deepEqual(spec.process.args, ["sh"]);
    assert.equal(spec.root.path, "rootfs");
    const again = box.oci(["spec"], { cwd: d });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /config\.json exists; remove it first\n$/);
  });
});
