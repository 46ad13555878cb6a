// Unit tests of web/flow.js (node --test web/test): formatting, clamps, frames.
import test from "node:test";
import assert from "node:assert/strict";
import * as flow from "../flow.js";

const stream = (over = {}) => ({
  id: 1, token: "0xT", sender: "0xA", receiver: "0xB", amount: 103n, rate: 10n, remainder: 3n,
  startBlock: 12, endBlock: 22, canceledBlock: null, streamed: 0n, block: 10, ...over,
});

test("the README's worked example, block by block", () => {
  const s = stream();
  const expected = { 10: 0n, 12: 0n, 13: 10n, 21: 90n, 22: 103n, 99: 103n };
  for (const [b, paid] of Object.entries(expected)) assert.equal(flow.streamedAt(s, Number(b)), paid);
  assert.equal(flow.statusAt(s, 11), "pending");
  assert.equal(flow.statusAt(s, 12), "streaming");
  assert.equal(flow.statusAt(s, 22), "settled");
  assert.equal(flow.progressBasisPoints(s, 13), 970);
});

test("a canceled stream pays nothing after its cancel block", () => {
  const s = stream({ canceledBlock: 15, streamed: 30n, block: 15 });
  assert.equal(flow.streamedAt(s, 40), 30n);
  assert.equal(flow.statusAt(s, 15), "canceled");
  assert.throws(() => flow.streamedAt(s, 14), RangeError);
});

test("frames move from one exact block value to the next and hold there", () => {
  assert.equal(flow.frameBalance(100n, 200n, 0, 1000), 100n);
  assert.equal(flow.frameBalance(100n, 200n, 500, 1000), 150n);
  assert.equal(flow.frameBalance(100n, 200n, 5000, 1000), 200n);
  assert.equal(flow.frameBalance(200n, 100n, 333, 1000), 167n);  // toward zero: between both
});

test("human units: exact, truncated, grouped; parse refuses what it cannot hold", () => {
  assert.equal(flow.formatUnits(1234567890123456789012n, 18, 4), "1,234.5678");
  assert.equal(flow.formatUnits(5n, 18, 18), "0.000000000000000005");
  assert.equal(flow.formatUnits(10n ** 18n, 18, 0), "1");
  assert.equal(flow.formatUnits(-15n, 1, 1), "-1.5");
  assert.equal(flow.parseUnits("1.5", 18), 1500000000000000000n);
  assert.equal(flow.parseUnits("7", 0), 7n);
  assert.equal(flow.parseUnits(" 0.000000000000000001 ", 18), 1n);
  assert.throws(() => flow.parseUnits("1.5", 0), /more than 0 decimals/);
  assert.throws(() => flow.parseUnits("1e18", 18), /not an amount/);
  assert.throws(() => flow.parseUnits("-1", 18), /not an amount/);
});

test("about three digits move per frame; a still balance shows four decimals", () => {
  assert.equal(flow.displayPlaces(18, 0n, 1000), 4);
  // 1 token per block, 50 ms frames: 5e16 per frame (17 digits) -> 18-17+3 = 4 places
  assert.equal(flow.displayPlaces(18, 10n ** 18n, 1000), 4);
  assert.equal(flow.displayPlaces(18, -(10n ** 12n), 1000), 10);
  assert.equal(flow.displayPlaces(6, 1n, 12000), 6);
});

test("account figures follow incoming and outgoing streams; commitments end at the last end", () => {
  const incoming = stream({ id: 1, sender: "0xC", receiver: "0xA" });
  const outgoing = stream({ id: 2, sender: "0xa", receiver: "0xB", endBlock: 30, rate: 1n, remainder: 0n, amount: 18n });
  const snap = { block: 10, balance: 200n, available: 182n, committed: 18n };
  const at = flow.accountAt(snap, [incoming, outgoing], "0xA", 22);
  assert.deepEqual([at.available, at.committed, at.balance], [182n + 103n, 8n, 200n + 103n - 10n]);
  assert.equal(flow.netRate([incoming, outgoing], "0xA", 13), 9n);
  assert.equal(flow.commitmentsEnd([incoming, outgoing], "0xA", 13), 30);
  assert.equal(flow.commitmentsEnd([incoming, outgoing], "0xA", 30), null);
});

test("blocks and times estimate each other", () => {
  assert.equal(flow.estimateTime(110, 100, 1000, 12), 1120);
  assert.equal(flow.estimateBlock(1121, 100, 1000, 12), 111);
  assert.deepEqual(flow.sampleBlocks(0, 10, 6), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(flow.sampleBlocks(5, 5, 6), [5]);
});

test("the chart spans the lowest to the highest balance, past and projected split at now", () => {
  const g = flow.chartGeometry([[0, 100n], [5, 200n], [10, 150n]], 5, { width: 120, height: 120, pad: 10 });
  assert.deepEqual(g.past, [[10, 110], [60, 10]]);
  assert.deepEqual(g.future, [[60, 10], [110, 60]]);
  assert.equal(g.nowX, 60);
  const flat = flow.chartGeometry([[0, 7n], [1, 7n]], 1, { width: 120, height: 120, pad: 10 });
  assert.deepEqual(flat.past.map(([, y]) => y), [10, 10]);
});
