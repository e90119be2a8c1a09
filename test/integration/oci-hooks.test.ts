// OCI hooks on a real kernel: each kind runs at its point, with the state on stdin, in
// the right namespace; failures of the creation hooks abort create and leave nothing.
import assert from "node:assert/strict";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { cgroupLeftovers, rootSkip, type Sandbox, sandbox } from "../helpers/oci.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const mode of ["direct", "warm"] as const)
describe(`berth-oci hooks (${mode})`, { skip: rootSkip }, () => {
  let box: Sandbox;
  before(() => {
    box = sandbox(mode);
  });
  after(() => box?.cleanup());

  /** a host hook: /bin/sh -c SCRIPT, with the state on its stdin */
  const sh = (script: string, extra: { timeout?: number; env?: string[] } = {}) => ({ path: "/bin/sh", args: ["sh", "-c", script], ...extra });

  test("every hook kind runs at its point with the state on stdin", async () => {
    const out = box.dir;
    const b = box.bundle("hooked", (s) => {
      s.hostname = "hooked-box";
      s.process!.args = ["sh", "-c", "cat /out/ran-before 2>/dev/null; echo user > /out/user"];
      s.mounts!.push({ destination: "/out", type: "bind", source: out, options: ["rbind", "rw"] });
      s.hooks = {
        prestart: [sh(`cat > ${out}/prestart.json`)],
        createRuntime: [sh(`cat > ${out}/createRuntime.json; readlink /proc/self/ns/uts > ${out}/createRuntime.ns`)],
        createContainer: [sh(`cat > ${out}/createContainer.json; readlink /proc/self/ns/uts > ${out}/createContainer.ns`)],
        startContainer: [sh(`cat > /out/startContainer.json; echo start-hook > /out/ran-before`)],
        poststart: [sh(`cat > ${out}/poststart.json`, { env: ["GREETING=hi"] })],
        poststop: [sh(`cat > ${out}/poststop.json`)],
      };
    });
    const created = box.oci(["create", "--bundle", b, "hooked"]);
    assert.equal(created.code, 0, created.stderr);
    for (const k of ["prestart", "createRuntime", "createContainer"]) {
      const st = JSON.parse(readFileSync(path.join(out, `${k}.json`), "utf8"));
      assert.equal(st.id, "hooked");
      assert.equal(st.status, "creating");
      assert.equal(typeof st.pid, "number");
      assert.equal(st.bundle, b);
    }
    assert.equal(existsSync(path.join(out, "startContainer.json")), false, "startContainer waits for start");
    // createRuntime runs in the runtime's namespaces, createContainer in the container's
    const containerUts = readlinkSync(`/proc/${JSON.parse(box.oci(["state", "hooked"]).stdout).pid}/ns/uts`) + "\n";
    assert.notEqual(readFileSync(path.join(out, "createRuntime.ns"), "utf8"), containerUts);
    assert.equal(readFileSync(path.join(out, "createContainer.ns"), "utf8"), containerUts);

    assert.equal(box.oci(["start", "hooked"]).code, 0);
    assert.equal(JSON.parse(readFileSync(path.join(out, "poststart.json"), "utf8")).id, "hooked");
    for (let i = 0; i < 300 && !existsSync(path.join(out, "user")); i++) await sleep(10);
    assert.equal(JSON.parse(readFileSync(path.join(out, "startContainer.json"), "utf8")).id, "hooked");
    assert.equal(readFileSync(path.join(out, "ran-before"), "utf8"), "start-hook\n");

    for (let i = 0; i < 300 && JSON.parse(box.oci(["state", "hooked"]).stdout).status !== "stopped"; i++) await sleep(10);
    assert.equal(box.oci(["delete", "hooked"]).code, 0);
    const stopped = JSON.parse(readFileSync(path.join(out, "poststop.json"), "utf8"));
    assert.equal(stopped.status, "stopped");
    assert.equal(stopped.id, "hooked");
  });

  test("a failing createRuntime hook aborts create with its status and leaves nothing", () => {
    const b = box.bundle("badhook", (s) => {
      s.hooks = { createRuntime: [sh("echo broken >&2; exit 3")] };
    });
    const r = box.oci(["create", "--bundle", b, "badhook"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "berth-oci: createRuntime hook 0 (/bin/sh): exited with status 3: broken\n");
    assert.equal(existsSync(path.join(box.root, "badhook")), false);
    assert.deepEqual(cgroupLeftovers(`/${path.basename(box.dir)}-badhook`), []);
  });

  test("a failing createContainer hook aborts create", () => {
    const b = box.bundle("badcc", (s) => {
      s.hooks = { createContainer: [sh("exit 4")] };
    });
    const r = box.oci(["create", "--bundle", b, "badcc"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "berth-oci: createContainer hook 0 (/bin/sh): exited with status 4\n");
    assert.equal(existsSync(path.join(box.root, "badcc")), false);
  });

  test("a hook that outlives its timeout is killed and fails create", () => {
    const b = box.bundle("slowhook", (s) => {
      s.hooks = { prestart: [sh("sleep 5", { timeout: 1 })] };
    });
    const r = box.oci(["create", "--bundle", b, "slowhook"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "berth-oci: prestart hook 0 (/bin/sh): timed out after 1s\n");
  });

  test("failing poststart and poststop hooks are warnings, not errors", () => {
    const b = box.bundle("warnhooks", (s) => {
      s.process!.args = ["true"];
      s.hooks = { poststart: [sh("exit 5")], poststop: [sh("exit 6")] };
    });
    const r = box.oci(["run", "--bundle", b, "warnhooks"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: poststart hook 0 \(\/bin\/sh\): exited with status 5/);
    assert.match(r.stderr, /warning: poststop hook 0 \(\/bin\/sh\): exited with status 6/);
    assert.equal(existsSync(path.join(box.root, "warnhooks")), false);
  });
});
