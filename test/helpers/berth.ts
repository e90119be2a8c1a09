// `berth` as the engine's integration tests run it: in a test's throwaway --root and
// --runroot, with Docker's exit code 125 and one line for berth's own failures.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export interface BerthCli {
  berth(args: string[], opts?: { input?: string; env?: Record<string, string> }): Result;
  /** runs, asserts exit 0, returns stdout */
  ok(args: string[]): string;
  /** asserts exit 125 and one line on stderr matching `pattern` (and, with `quiet`, nothing on stdout) */
  fails125(args: string[], pattern: RegExp, opts?: { quiet?: boolean }): void;
}

/** The roots are read at each call: tests make them in before(). */
export function berthCli(bin: string, roots: () => { root: string; runroot: string }, timeoutMs = 60_000): BerthCli {
  const berth: BerthCli["berth"] = (args, opts = {}) => {
    const { root, runroot } = roots();
    const r = spawnSync(bin, ["--root", root, "--runroot", runroot, ...args], {
      input: opts.input ?? "",
      encoding: "utf8",
      timeout: timeoutMs,
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  return {
    berth,
    ok(args) {
      const r = berth(args);
      assert.equal(r.code, 0, `berth ${args.join(" ")}: ${r.stderr}`);
      return r.stdout;
    },
    fails125(args, pattern, opts = {}) {
      const r = berth(args);
      assert.equal(r.code, 125, `berth ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
      // a pattern may name the line's end (\n$) or not ($)
      assert.match(pattern.test(r.stderr) ? r.stderr : r.stderr.trimEnd(), pattern);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, `one line: ${r.stderr}`);
      if (opts.quiet) assert.equal(r.stdout, "");
    },
  };
}
