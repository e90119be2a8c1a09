// Bad input: one clear line on stderr, exit code 1, and nothing left behind
// (no state directory, no cgroup, no process).
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { cgroupLeftovers, rootSkip, type Sandbox, sandbox } from "../helpers/oci.js";

for (const mode of ["direct", "warm"] as const)
describe(`berth-oci: bad input (${mode})`, { skip: rootSkip }, () => {
  let box: Sandbox;
  before(() => {
    box = sandbox(mode);
  });
  after(() => box?.cleanup());

  /** asserts the failure and that the id left no trace */
  function fails(args: string[], stderr: string | RegExp, id?: string, cgroupsPath?: string) {
    const r = box.oci(args);
    assert.equal(r.code, 1, `expected exit 1, got ${r.code}: ${r.stderr}`);
    if (typeof stderr === "string") assert.equal(r.stderr, stderr);
    else assert.match(r.stderr, stderr);
    assert.equal(r.stderr.trimEnd().split("\n").filter((l) => !l.startsWith("hint: ")).length, 1, "one line");
    if (id) assert.equal(existsSync(path.join(box.root, id)), false, "no state directory");
    if (cgroupsPath) assert.deepEqual(cgroupLeftovers(cgroupsPath), [], "no cgroup");
    assert.equal(box.oci(["list", "-q"]).stdout.split("\n").includes(id ?? "\0"), false);
  }

  function rawBundle(name: string, config: string | undefined): string {
    const b = path.join(box.dir, "raw", name);
    rmSync(b, { recursive: true, force: true });
    mkdirSync(b, { recursive: true });
    if (config !== undefined) writeFileSync(path.join(b, "config.json"), config);
    return b;
  }

  const cg = (name: string) => `/${path.basename(box.dir)}-${name}`;

  test("a bundle without config.json", () => {
    const b = rawBundle("noconfig", undefined);
    fails(["create", "--bundle", b, "noconfig"], `berth-oci: ${b}/config.json: no such file\n`, "noconfig");
  });

  test("config.json that is not JSON", () => {
    const b = rawBundle("notjson", "{ ociVersion: ");
    fails(["create", "--bundle", b, "notjson"], /^berth-oci: config\.json: invalid JSON: /, "notjson");
  });

  test("a field of the wrong type", () => {
    const b = box.bundle("wrongtype", (s) => {
      (s as unknown as { hostname: number }).hostname = 5;
    });
    fails(["create", "--bundle", b, "wrongtype"], "berth-oci: config.json: hostname: expected a string, got number\n", "wrongtype", cg("wrongtype"));
  });

  test("empty process.args", () => {
    const b = box.bundle("noargs", (s) => {
      s.process!.args = [];
    });
    fails(["create", "--bundle", b, "noargs"], /^berth-oci: config\.json: process\.args: /, "noargs", cg("noargs"));
  });

  test("a config without a process can be created but not started (config.md: REQUIRED when start is called)", () => {
    const b = box.bundle("noproc", (s) => {
      delete s.process;
    });
    assert.equal(box.oci(["create", "--bundle", b, "noproc"]).code, 0);
    const r = box.oci(["start", "noproc"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'berth-oci: container "noproc" has no process to start: config.json: process is required by start\n');
    assert.equal(JSON.parse(box.oci(["state", "noproc"]).stdout).status, "created");
    assert.equal(box.oci(["delete", "--force", "noproc"]).code, 0);
    fails(["run", "--bundle", b, "noproc-run"], 'berth-oci: container "noproc-run" has no process to start: config.json: process is required by start\n', "noproc-run", cg("noproc"));
  });

  test("a rootfs that does not exist", () => {
    const b = box.bundle("norootfs", (s) => {
      s.root = { path: "/nonexistent/rootfs" };
    });
    fails(["create", "--bundle", b, "norootfs"], "berth-oci: config.json: root.path: /nonexistent/rootfs does not exist\n", "norootfs", cg("norootfs"));
  });

  test("a program that does not exist in the rootfs fails at create, not at start", () => {
    const b = box.bundle("noprog", (s) => {
      s.process!.args = ["/bin/no-such-program"];
    });
    fails(["create", "--bundle", b, "noprog"], 'berth-oci: exec: "/bin/no-such-program": no such file or directory\n', "noprog", cg("noprog"));
    const c = box.bundle("noprog-path", (s) => {
      s.process!.args = ["no-such-program"];
    });
    fails(["run", "--bundle", c, "noprog-path"], 'berth-oci: exec: "no-such-program": no such file or directory\n', "noprog-path", cg("noprog-path"));
  });

  test("a mount the kernel refuses names the mount and the reason", () => {
    const b = box.bundle("badmount", (s) => {
      s.mounts!.push({ destination: "/x", type: "no-such-fs", source: "none" });
    });
    fails(["create", "--bundle", b, "badmount"], "berth-oci: mount none on /x: no such device\n", "badmount", cg("badmount"));
  });

  test("an id already in use", () => {
    const b = box.bundle("dup", (s) => {
      s.process!.args = ["sleep", "30"];
    });
    assert.equal(box.oci(["create", "--bundle", b, "dup"]).code, 0);
    try {
      const r = box.oci(["create", "--bundle", b, "dup"]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, 'berth-oci: container "dup" already exists\n');
      assert.equal(JSON.parse(box.oci(["state", "dup"]).stdout).status, "created", "the first container is untouched");
    } finally {
      box.oci(["delete", "--force", "dup"]);
    }
  });

  test("an invalid id", () => {
    const b = box.bundle("ok");
    fails(["create", "--bundle", b, "../escape"], `berth-oci: container id "../escape": expected letters, digits, '_', '+', '-' and '.'\n`);
  });

  test("a signal that does not exist", () => {
    const b = box.bundle("sigs", (s) => {
      s.process!.args = ["sleep", "30"];
    });
    assert.equal(box.oci(["run", "-d", "--bundle", b, "sigs"]).code, 0);
    try {
      const r = box.oci(["kill", "sigs", "SIGNOPE"]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, 'berth-oci: signal "SIGNOPE": expected a signal name such as SIGTERM or KILL, or a number from 1 to 64\n');
      assert.equal(JSON.parse(box.oci(["state", "sigs"]).stdout).status, "running");
    } finally {
      box.oci(["delete", "--force", "sigs"]);
    }
  });

  test("start of a container that is not created", () => {
    const b = box.bundle("twice", (s) => {
      s.process!.args = ["sleep", "30"];
    });
    assert.equal(box.oci(["run", "-d", "--bundle", b, "twice"]).code, 0);
    try {
      const r = box.oci(["start", "twice"]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, 'berth-oci: container "twice" is not in created state (status: running)\n');
    } finally {
      box.oci(["delete", "--force", "twice"]);
    }
    fails(["start", "nothing-here"], 'berth-oci: container "nothing-here" does not exist\n');
  });

  test("an unknown command or flag", () => {
    const r = box.oci(["frobnicate"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown command 'frobnicate'/);
  });

  test("--log receives errors as JSON lines for engines", () => {
    const log = path.join(box.dir, "oci.log");
    box.oci(["--log", log, "--log-format", "json", "state", "missing"]);
    const line = JSON.parse(readLog(log));
    assert.equal(line.level, "error");
    assert.equal(line.msg, 'container "missing" does not exist');
  });

  test("nothing at all is left under the root after the failures", () => {
    const left = existsSync(box.root) ? readdirSync(box.root) : [];
    assert.deepEqual(left, []);
  });
});

function readLog(file: string): string {
  return readFileSync(file, "utf8").trim().split("\n")[0];
}
