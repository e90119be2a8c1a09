// /etc/subuid and /etc/subgid as an unprivileged berth reads them (src/engine/rootless.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { subordinateRange } from "../../src/engine/index.js";

test("subordinateRange: the user's first range, by name or by uid; none for others or malformed lines", () => {
  const text = "# comment\nalice:100000:65536\nbob:x:10\n1002:300000:1000\nalice:500000:65536\n";
  assert.deepEqual(subordinateRange(text, "alice", 1001), { start: 100000, count: 65536 });
  assert.deepEqual(subordinateRange(text, "carol", 1002), { start: 300000, count: 1000 });
  assert.equal(subordinateRange(text, "bob", 1003), undefined);
  assert.equal(subordinateRange(text, "dave", 1004), undefined);
  assert.equal(subordinateRange("", "alice", 1001), undefined);
});
