// Pure BigInt math of a flowing balance: no DOM, no network, no float on an amount.
//
// The DApp answers a balance and each stream *at a block* (inspect). From one such
// snapshot every later block follows exactly, because a stream pays `rate` per block
// from max(start, its last update) and its `remainder` at `end_block`. Superfluid's
// "balance dance" is the model: every frame is recomputed from one snapshot (never
// accumulated, so it cannot drift), and a new snapshot replaces the old on every block.

/** A stream as the DApp's JSON gives it (strings for amounts), with BigInt amounts. */
export function parseStream(json) {
  return {
    id: json.id,
    token: json.token,
    sender: json.sender,
    receiver: json.receiver,
    amount: BigInt(json.amount),
    rate: BigInt(json.rate),
    remainder: BigInt(json.remainder),
    startBlock: json.start_block,
    endBlock: json.end_block,
    canceledBlock: json.canceled_block,
    streamed: BigInt(json.streamed),
    block: json.block,
  };
}

/** Where `block` falls on the stream's paying span, clamped to [start, end]. */
function position(stream, block) {
  return Math.min(Math.max(block, stream.startBlock), stream.endBlock);
}

/**
 * What a stream has paid by `block`, from its snapshot at `stream.block`.
 * Exact for any block at or after the snapshot: the rate applies from
 * max(start, last update) and the snapshot is never older than the last update.
 */
export function streamedAt(stream, block) {
  if (block < stream.block) {
    throw new RangeError(`block ${block} is before the snapshot's block ${stream.block}`);
  }
  const stop = stream.canceledBlock ?? Infinity;
  const from = Math.min(stream.block, stop);
  const to = Math.min(block, stop);
  if (to <= from) return stream.streamed;
  let paid = stream.rate * BigInt(position(stream, to) - position(stream, from));
  if (to >= stream.endBlock && from < stream.endBlock) paid += stream.remainder;
  return stream.streamed + paid;
}

/** pending, streaming, settled or canceled at `block`, as the DApp names them. */
export function statusAt(stream, block) {
  if (stream.canceledBlock !== null && stream.canceledBlock !== undefined
      && block >= stream.canceledBlock) return "canceled";
  if (block < stream.startBlock) return "pending";
  if (block < stream.endBlock) return "streaming";
  return "settled";
}

/** Progress of a stream in hundredths of a percent (0..10000), an integer. */
export function progressBasisPoints(stream, block) {
  if (stream.amount === 0n) return 10000;
  return Number((streamedAt(stream, block) * 10000n) / stream.amount);
}

/**
 * An account's figures in one token at any block from `snapshot.block` on.
 * `snapshot` is the DApp's balance answer ({block, balance, available, committed} with
 * BigInt amounts); `streams` its incoming and outgoing streams in that token, parsed.
 * Incoming streams raise `available`; outgoing ones lower `committed`.
 */
export function accountAt(snapshot, streams, account, block) {
  const me = account.toLowerCase();
  let incoming = 0n;
  let outgoing = 0n;
  for (const s of streams) {
    const delta = streamedAt(s, block) - streamedAt(s, snapshot.block);
    if (s.receiver.toLowerCase() === me) incoming += delta;
    if (s.sender.toLowerCase() === me) outgoing += delta;
  }
  const available = snapshot.available + incoming;
  const committed = snapshot.committed - outgoing;
  return { block, available, committed, balance: available + committed };
}

/**
 * What the page paints `elapsedMs` after block `snapshot.block` arrived: the exact
 * balance at that block, moving linearly toward the exact balance of the next block
 * (`next`, from accountAt), reached when a whole block time has passed and held there.
 * Integer division, so the shown value is always between the two exact ones.
 */
export function frameBalance(current, next, elapsedMs, blockMs) {
  const t = BigInt(Math.max(0, Math.min(Math.floor(elapsedMs), blockMs)));
  return current + ((next - current) * t) / BigInt(blockMs);
}

/** The block at which an account's outgoing commitments end (null when none runs). */
export function commitmentsEnd(streams, account, block) {
  const me = account.toLowerCase();
  let end = null;
  for (const s of streams) {
    if (s.sender.toLowerCase() !== me) continue;
    const status = statusAt(s, block);
    if (status === "canceled" || status === "settled") continue;
    end = end === null ? s.endBlock : Math.max(end, s.endBlock);
  }
  return end;
}

/** Net flow in base units per block at `block` (incoming minus outgoing rates). */
export function netRate(streams, account, block) {
  const me = account.toLowerCase();
  let rate = 0n;
  for (const s of streams) {
    if (statusAt(s, block) !== "streaming") continue;
    if (s.receiver.toLowerCase() === me) rate += s.rate;
    if (s.sender.toLowerCase() === me) rate -= s.rate;
  }
  return rate;
}

// --- human units ---------------------------------------------------------------------

/**
 * How many decimals to show so that about three digits move each frame, as Superfluid's
 * dashboard does; a balance that does not move shows `restingPlaces`.
 */
export function displayPlaces(decimals, ratePerBlock, blockMs, frameMs = 50, restingPlaces = 4) {
  const abs = ratePerBlock < 0n ? -ratePerBlock : ratePerBlock;
  const perFrame = (abs * BigInt(frameMs)) / BigInt(blockMs);
  if (perFrame === 0n) {
    if (abs === 0n) return Math.min(decimals, restingPlaces);
    return decimals;
  }
  const digits = perFrame.toString().length;
  return Math.max(0, Math.min(decimals, decimals - digits + 3));
}

/** `value` base units as a decimal text with `places` decimals, truncated toward zero. */
export function formatUnits(value, decimals, places = decimals) {
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const unit = 10n ** BigInt(decimals);
  const whole = (abs / unit).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  let text = whole;
  if (places > 0) {
    const fraction = (abs % unit).toString().padStart(decimals, "0").slice(0, places);
    text += "." + fraction;
  }
  return (negative ? "-" : "") + text;
}

/** A human amount ("1.5") as base units; refuses more decimals than the token has. */
export function parseUnits(text, decimals) {
  const match = /^\s*(\d+)(?:\.(\d*))?\s*$/.exec(String(text));
  if (!match) throw new Error(`not an amount: "${text}" (digits, with one optional ".")`);
  const fraction = match[2] ?? "";
  if (fraction.length > decimals) {
    throw new Error(`"${text}" has more than ${decimals} decimals`);
  }
  return BigInt(match[1]) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0");
}

// --- time ------------------------------------------------------------------------------

/** An estimated Unix time (seconds) for `block`, from a known block and seconds per block. */
export function estimateTime(block, refBlock, refTimestamp, secondsPerBlock) {
  return refTimestamp + (block - refBlock) * secondsPerBlock;
}

/** The first block at or after `timestamp` by the same estimate. */
export function estimateBlock(timestamp, refBlock, refTimestamp, secondsPerBlock) {
  if (secondsPerBlock <= 0) return refBlock;
  return refBlock + Math.max(0, Math.ceil((timestamp - refTimestamp) / secondsPerBlock));
}

// --- history from notices ----------------------------------------------------------------

/**
 * An account's history in one token, rebuilt from the DApp's notices alone (as an indexer
 * would): fixed credits and debits at their blocks, and each stream's snapshots (opened,
 * each update, the cancel) so its payments are known at every block.
 */
export function historyOf(notices, account, token) {
  const me = account.toLowerCase();
  const tok = token.toLowerCase();
  const moves = [];      // {block, delta}
  const streams = new Map();  // id -> {snapshots: [parsed], side: "in"|"out"}
  const same = (a) => typeof a === "string" && a.toLowerCase() === me;
  for (const n of notices) {
    if (n.token !== undefined && n.token.toLowerCase() !== tok) continue;
    switch (n.event) {
      case "deposit":
        if (same(n.account)) moves.push({ block: n.block, delta: BigInt(n.amount) });
        break;
      case "withdrawal":
        if (same(n.account)) moves.push({ block: n.block, delta: -BigInt(n.amount) });
        break;
      case "transfer":
        if (same(n.receiver)) moves.push({ block: n.block, delta: BigInt(n.amount) });
        if (same(n.sender)) moves.push({ block: n.block, delta: -BigInt(n.amount) });
        break;
      case "stream_opened":
      case "stream_updated": {
        if (!same(n.sender) && !same(n.receiver)) break;
        const entry = streams.get(n.id) ?? { snapshots: [] };
        entry.snapshots.push(parseStream(n));
        streams.set(n.id, entry);
        break;
      }
      case "stream_canceled": {
        const entry = streams.get(n.id);
        if (entry) {
          const last = entry.snapshots[entry.snapshots.length - 1];
          entry.snapshots.push({ ...last, canceledBlock: n.block, streamed: BigInt(n.streamed),
                                 block: n.block });
        }
        break;
      }
      default:
        break;
    }
  }
  return { account: me, moves, streams: [...streams.values()] };
}

/** What a stream with these snapshots (oldest first) had paid by `block`. */
function streamedFromSnapshots(snapshots, block) {
  let chosen = null;
  for (const s of snapshots) {
    if (s.block <= block) chosen = s;
  }
  return chosen === null ? 0n : streamedAt(chosen, block);
}

/** The account's balance at `block`, from its history (exact, like the DApp's). */
export function balanceFromHistory(history, block) {
  let balance = 0n;
  for (const m of history.moves) if (m.block <= block) balance += m.delta;
  for (const { snapshots } of history.streams) {
    const paid = streamedFromSnapshots(snapshots, block);
    const first = snapshots[0];
    if (first.receiver.toLowerCase() === history.account) balance += paid;
    if (first.sender.toLowerCase() === history.account) balance -= paid;
  }
  return balance;
}

/** `count` evenly spaced blocks from `from` to `to` (both included, no duplicates). */
export function sampleBlocks(from, to, count) {
  if (to <= from) return [from];
  const blocks = [];
  for (let i = 0; i < count; i += 1) {
    const b = from + Math.round(((to - from) * i) / (count - 1));
    if (blocks.length === 0 || blocks[blocks.length - 1] !== b) blocks.push(b);
  }
  return blocks;
}

// --- the chart ---------------------------------------------------------------------------

/**
 * Pixel geometry of the balance chart: `points` are [block, balance] pairs (BigInt
 * balances, exact), split at `nowBlock` into past and projected lines, scaled between their
 * lowest and highest balance so that a flow shows. Only pixel positions are numbers;
 * balances are scaled in BigInt before becoming pixels.
 */
export function chartGeometry(points, nowBlock, { width = 640, height = 220, pad = 24, label = String } = {}) {
  const first = points[0][0];
  const last = points[points.length - 1][0];
  let top = points[0][1];
  let bottom = points[0][1];
  for (const [, v] of points) {
    if (v > top) top = v;
    if (v < bottom) bottom = v;
  }
  if (top === bottom) bottom = 0n;
  const range = top - bottom || 1n;
  const span = Math.max(1, last - first);
  const x = (b) => pad + Math.round(((b - first) * (width - 2 * pad)) / span);
  const y = (v) => height - pad - Number(((v - bottom) * BigInt(height - 2 * pad)) / range);
  const past = points.filter(([b]) => b <= nowBlock).map(([b, v]) => [x(b), y(v)]);
  const future = points.filter(([b]) => b >= nowBlock).map(([b, v]) => [x(b), y(v)]);
  return {
    width, height, past, future, nowX: x(Math.min(Math.max(nowBlock, first), last)),
    labels: [
      { x: width / 2, y: height - 4, text: `block ${first} – ${last}`, anchor: "middle" },
      { x: pad, y: pad - 8, text: label(top) },
      { x: pad, y: height - pad + 12, text: label(bottom) },
    ],
  };
}
