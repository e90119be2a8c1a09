// The builder's pure parts: the Dockerfile parse (continuations, heredocs, exec form, errors
// naming file and line), Docker's variable substitution, .dockerignore and COPY's wildcard and
// destination rules.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { expandWord, expandWords, keyValues, parseDockerfile, findSources, ignoreMatcher, ignorePatterns, placeSources } from "../../src/build/index.js";

const vars = new Map([
  ["A", "one"],
  ["EMPTY", ""],
  ["SP", "x y"],
]);

test("substitution: $VAR, ${VAR}, modifiers, unset is empty", () => {
  assert.equal(expandWord("$A", vars), "one");
  assert.equal(expandWord("${A}x", vars), "onex");
  assert.equal(expandWord("$Ax", vars), "");
  assert.equal(expandWord("$NOPE", vars), "");
  assert.equal(expandWord("${NOPE:-def}", vars), "def");
  assert.equal(expandWord("${EMPTY:-def}", vars), "def");
  assert.equal(expandWord("${EMPTY-def}", vars), "");
  assert.equal(expandWord("${NOPE-def}", vars), "def");
  assert.equal(expandWord("${A:+alt}", vars), "alt");
  assert.equal(expandWord("${EMPTY:+alt}", vars), "");
  assert.equal(expandWord("${EMPTY+alt}", vars), "alt");
  assert.equal(expandWord("${NOPE:-${A}}", vars), "one");
  assert.throws(() => expandWord("${NOPE:?must be set}", vars), /NOPE: must be set/);
  assert.throws(() => expandWord("${A", vars), /bad substitution/);
  assert.throws(() => expandWord("${A:-x", vars), /missing '}'/);
});

test("substitution: quotes and escapes as Docker's lexer", () => {
  assert.equal(expandWord("'$A'", vars), "$A");
  assert.equal(expandWord('"$A b"', vars), "one b");
  assert.equal(expandWord("\\$A", vars), "$A");
  assert.equal(expandWord('"a\\"b"', vars), 'a"b');
  assert.equal(expandWord("`$A", vars, "`"), "$A");
  assert.equal(expandWord("$", vars), "$");
  assert.deepEqual(expandWords('a "b c" $SP', vars), ["a", "b c", "x", "y"]);
  assert.deepEqual(expandWords('"$SP"', vars), ["x y"]);
  assert.deepEqual(expandWords("''", vars), [""]);
});

test("ENV and LABEL pairs: KEY=VALUE with quotes, the legacy form, values expanded with the env before the line", () => {
  assert.deepEqual(keyValues('A=1 B="two words" C=$A', vars, "\\", "ENV"), [["A", "1"], ["B", "two words"], ["C", "one"]]);
  assert.deepEqual(keyValues("KEY a value $A", vars, "\\", "ENV"), [["KEY", "a value one"]]);
  assert.deepEqual(keyValues("N V=2", vars, "\\", "ARG", { allowBare: true }), [["N", undefined], ["V", "2"]]);
  assert.throws(() => keyValues("ONLY", vars, "\\", "ENV"), /expected KEY=VALUE/);
  assert.throws(() => keyValues("=x", vars, "\\", "LABEL"), /name is empty/);
});

test("parse: directives, continuations with comments, exec form, heredocs, flags, lines", () => {
  const df = parseDockerfile(
    ["# syntax=docker/dockerfile:1", "# escape=`", "FROM busybox AS b", "RUN echo a `", "# a comment inside", "", "  && echo b", 'CMD ["sh", "-c", "x"]', "COPY --chown=1:2 --from=b a /b/", "RUN <<EOT", "echo $HOME", "EOT", "ENTRYPOINT [not json"].join("\n"),
    "Dockerfile.x",
  );
  assert.equal(df.escape, "`");
  assert.equal(df.directives.syntax, "docker/dockerfile:1");
  const [from, run, cmd, copy, heredoc, ep] = df.instructions;
  assert.equal(from!.line, 3);
  assert.equal(run!.args, "echo a   && echo b");
  assert.equal(run!.line, 4);
  assert.deepEqual(cmd!.json, ["sh", "-c", "x"]);
  assert.deepEqual(copy!.flags, [{ name: "chown", value: "1:2" }, { name: "from", value: "b" }]);
  assert.equal(copy!.args, "a /b/");
  assert.equal(heredoc!.heredocs[0]!.body, "echo $HOME\n");
  assert.equal(heredoc!.args, "<<EOT");
  assert.equal(ep!.json, undefined, "not JSON: the shell form");
});

test("parse errors name the file and the line", () => {
  assert.throws(() => parseDockerfile("FROM busybox\n\nBOGUS x\n", "Dockerfile"), /^BerthError: Dockerfile:3: unknown instruction: BOGUS$/);
  assert.throws(() => parseDockerfile("FROM busybox\nENV\n", "my.Dockerfile"), /my\.Dockerfile:2: ENV requires at least one argument/);
  assert.throws(() => parseDockerfile("FROM busybox\nCOPY --bogus=1 a b\n"), /Dockerfile:2: COPY: unknown flag: --bogus/);
  assert.throws(() => parseDockerfile("FROM busybox\nRUN <<EOF\necho\n"), /Dockerfile:2: RUN: heredoc <<EOF is not closed/);
});

test(".dockerignore: anchored patterns, **, ! exceptions, comments", () => {
  const ig = ignoreMatcher(ignorePatterns("# comment\n*.log\n!keep.log\nsecret\n**/tmp\ndocs/**/*.md\n"));
  assert.equal(ig("a.log"), true);
  assert.equal(ig("keep.log"), false);
  assert.equal(ig("sub/a.log"), false, "* does not cross directories");
  assert.equal(ig("secret"), true);
  assert.equal(ig("secret/inner"), true, "inside an excluded directory");
  assert.equal(ig("sub/secret"), false, "anchored at the root");
  assert.equal(ig("x/y/tmp"), true);
  assert.equal(ig("docs/a/b/c.md"), true);
  assert.equal(ig("docs/c.txt"), false);
  assert.equal(ig("Dockerfile"), false);
});

test("COPY sources: wildcards, ignored files, nothing outside the context", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "berth-build-unit-"));
  try {
    for (const f of ["a.txt", "b.txt", "c.md", "sub/d.txt"]) {
      mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      writeFileSync(path.join(dir, f), f);
    }
    symlinkSync("/etc/passwd", path.join(dir, "out"));
    symlinkSync("a.txt", path.join(dir, "in"));
    const ignored = ignoreMatcher(["b.txt"]);
    const rels = (p: string) => findSources(dir, p, "COPY", { confine: true, ignored }).map((s) => s.rel);
    assert.deepEqual(rels("*.txt"), ["a.txt"]);
    assert.deepEqual(rels("[ac].*"), ["a.txt", "c.md"]);
    assert.deepEqual(rels("s?b/*.txt"), ["sub/d.txt"]);
    assert.equal(findSources(dir, "in", "COPY", { confine: true }).at(0)!.host, path.join(dir, "a.txt"));
    assert.throws(() => rels("b.txt"), /no such file/);
    assert.throws(() => rels("*.none"), /nothing matches/);
    assert.throws(() => rels("../etc/passwd"), /forbidden path outside the build context/);
    assert.throws(() => rels("sub/../../x"), /forbidden path outside the build context/);
    assert.throws(() => rels("out"), /forbidden path outside the build context \(a symlink to \/etc\/passwd\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("COPY destinations: Docker's directory and file rules", () => {
  const file = (rel: string) => ({ host: `/ctx/${rel}`, rel });
  const isDir = (dirs: string[]) => (p: string) => dirs.includes(p);
  const srcDir = (s: { rel: string }) => s.rel === "dir";
  const place = (srcs: string[], dest: string, dirs: string[] = [], workdir = "/") => placeSources(srcs.map(file), dest, workdir, isDir(dirs), "COPY", srcDir).map((p) => `${p.dest}${p.contents ? " (contents)" : ""}`);
  assert.deepEqual(place(["a.txt"], "/x"), ["/x"], "a missing path becomes the file");
  assert.deepEqual(place(["a.txt"], "/x/"), ["/x/a.txt"], "a trailing / is a directory");
  assert.deepEqual(place(["a.txt"], "/etc", ["/etc"]), ["/etc/a.txt"], "an existing directory takes it inside");
  assert.deepEqual(place(["a.txt", "b.txt"], "/d/"), ["/d/a.txt", "/d/b.txt"]);
  assert.throws(() => place(["a.txt", "b.txt"], "/d"), /more than one source file, the destination must be a directory and end with a \//);
  assert.deepEqual(place(["dir"], "/app"), ["/app (contents)"], "a directory's content, not the directory");
  assert.deepEqual(place(["a.txt"], "rel/", [], "/work"), ["/work/rel/a.txt"], "relative to WORKDIR");
  assert.deepEqual(place(["a.txt"], ".", [], "/work"), ["/work/a.txt"]);
});
