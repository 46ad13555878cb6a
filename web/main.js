// The page's controller: reads the node and L1 on every new block, keeps one exact
// snapshot per token, paints a flowing figure between blocks, and sends the user's
// actions through the wallet. Math lives in flow.js, I/O in node.js and wallet.js,
// painting in view.js.
import { applicationAbi } from "@cartesi/viem/abi";
import { getAddress, isAddress } from "viem";
import * as flow from "./flow.js";
import { NodeApi, describeError, describeOutput, loadDeployment } from "./node.js";
import * as view from "./view.js";
import { Wallet } from "./wallet.js";

const POLL_MS = 250;          // how often the L1 block number is read
const FRAME_MS = 50;          // a flowing figure steps every ~50 ms (Superfluid: 40–75)
const INPUT_WAIT_POLLS = 960; // an input's outcome is polled this many times (4 min)
const VOUCHER_POLLS = 8;      // with a voucher waiting, outputs are re-read every 8 polls (2 s)
const ROWS_PER_PAGE = 100;    // stream rows shown at first, and added by "show more"
const ACTIVITY_SHOWN = 200;   // newest activity items shown (the CSV has them all)

const state = {
  deployment: null, api: null, wallet: null, account: null, connected: null,
  tokens: new Map(), block: null, secondsPerBlock: 1, blockArrivedAt: 0,
  processed: null, outputs: [], notices: [], streams: [], anchors: new Map(),
  voucherExecuted: new Map(), chartToken: null, reload: true, rowLimit: ROWS_PER_PAGE,
};

function blockMs() {
  return Math.max(250, Math.round(state.secondsPerBlock * 1000));
}

function dateOf(block) {
  if (!state.block) return "";
  const t = flow.estimateTime(block, state.block.number, state.block.timestamp, state.secondsPerBlock);
  return new Date(t * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

function human(token, value, places) {
  const info = state.tokens.get(token.toLowerCase());
  const decimals = info?.decimals ?? 18;
  return flow.formatUnits(value, decimals, places ?? Math.min(decimals, 4));
}

function symbolOf(token) {
  return state.tokens.get(token.toLowerCase())?.symbol ?? "?";
}

function fail(error) {
  console.error(error);
  view.showMessage(error.shortMessage ?? error.message ?? String(error), { error: true });
}

// --- reading ---------------------------------------------------------------------------

async function addToken(address) {
  const key = address.toLowerCase();
  if (!state.tokens.has(key)) state.tokens.set(key, await state.api.token(getAddress(address)));
}

/** Reads what changed only when an input was processed (outputs, streams, tokens). */
async function refreshInputs(force) {
  const processed = await state.api.processedInputCount();
  if (!force && processed === state.processed && !voucherPending()) return false;
  let streams = state.streams;
  if (state.account) {
    try {
      streams = (await state.api.streams(state.account, state.block.number)).map(flow.parseStream);
    } catch (error) {
      if (!error.report) throw error;
      state.reload = true;  // an input past this block landed meanwhile: read again at the next poll
      return false;
    }
  }
  state.processed = processed;
  state.streams = streams;
  const outputs = (await state.api.outputs()).map(describeOutput);
  state.outputs = outputs;
  state.notices = outputs.filter((o) => o.kind === "notice" && o.notice).map((o) => o.notice);
  for (const o of outputs) {
    if (o.kind === "voucher" && o.proven && !o.executed && sameAccount(o.to) && !state.voucherExecuted.get(o.index)) {
      const done = await state.api.l1.readContract({
        address: state.deployment.application, abi: applicationAbi, functionName: "wasOutputExecuted", args: [o.index],
      });
      state.voucherExecuted.set(o.index, done);
    }
  }
  if (state.account) {
    const tokens = new Set([state.deployment.token.toLowerCase()]);
    for (const n of state.notices) if (n.token && mentions(n)) tokens.add(n.token.toLowerCase());
    for (const s of state.streams) tokens.add(s.token.toLowerCase());
    for (const t of tokens) await addToken(t);
  }
  return true;
}

function sameAccount(address) {
  return Boolean(address && state.account && address.toLowerCase() === state.account.toLowerCase());
}

function mentions(n) {
  return ["account", "sender", "receiver", "owner", "spender", "by"].some((k) => sameAccount(n[k]))
    || (n.event === "stream_canceled" && state.streams.some((s) => s.id === n.id));
}

/** Everything the page shows at a new block (or again when `reload`: an input landed). */
async function onBlock(latest, reload) {
  const first = state.block === null;
  state.block = latest;
  state.blockArrivedAt = performance.now();
  if (first) await estimateBlockTime(latest);
  const changed = await refreshInputs(first || reload);
  if (!state.account) {
    view.showChain(chainText());
    return;
  }
  const cards = [];
  for (const info of state.tokens.values()) {
    let snapshot;
    try {
      snapshot = await state.api.balance(info.address, state.account, latest.number);
    } catch (error) {
      if (!error.report) throw error;
      // An input past this block landed meanwhile: this token waits for the next poll.
      state.anchors.delete(info.address.toLowerCase());
      state.reload = true;
      continue;
    }
    const streams = state.streams.filter((s) => s.token.toLowerCase() === info.address.toLowerCase());
    const next = flow.accountAt(snapshot, streams, state.account, latest.number + 1);
    const rate = flow.netRate(streams, state.account, latest.number);
    const places = flow.displayPlaces(info.decimals, rate, blockMs(), FRAME_MS);
    state.anchors.set(info.address.toLowerCase(), { snapshot, next, places, decimals: info.decimals, at: state.blockArrivedAt });
    const l1 = await state.api.l1Balance(info.address, state.account);
    const ends = flow.commitmentsEnd(streams, state.account, latest.number);
    cards.push({
      token: info.address, symbol: info.symbol, account: state.account, block: latest.number,
      wei: { balance: snapshot.balance.toString(), available: snapshot.available.toString(), committed: snapshot.committed.toString() },
      text: { available: human(info.address, snapshot.available), committed: human(info.address, snapshot.committed) },
      rate: rate === 0n ? "none" : `${rate > 0n ? "+" : ""}${human(info.address, rate, Math.min(info.decimals, 6))} ${info.symbol} / block`,
      ends: ends === null ? "nothing committed" : `block ${ends} (≈ ${dateOf(ends)})`,
      l1: `${human(info.address, l1)} ${info.symbol} in the wallet`,
    });
  }
  view.renderBalances(cards);
  if (cards.length && !performance.getEntriesByName("first-balance").length) performance.mark("first-balance");
  paintFrame(performance.now(), true);
  renderStreams(latest.number);
  if (changed || first || reload || latest.number % 5 === 0) {
    renderActivity();
    renderChart();
  }
  view.setTokenChoices([...state.tokens.values()]);
  view.showChain(chainText());
}

function chainText() {
  const b = state.block;
  return `L1 block ${b.number} · ${new Date(b.timestamp * 1000).toISOString().slice(11, 19)} UTC · ~${state.secondsPerBlock.toFixed(1)} s/block · app ${view.short(state.deployment.application)}`;
}

async function estimateBlockTime(latest) {
  const back = Math.min(20, latest.number);
  if (back === 0) return;
  const old = await state.api.blockTimestamp(latest.number - back);
  const seconds = (latest.timestamp - old) / back;
  state.secondsPerBlock = seconds > 0 ? seconds : 1;
}

// --- painting --------------------------------------------------------------------------

let lastPaint = 0;

function paintFrame(now, force = false) {
  if (!force && now - lastPaint < FRAME_MS) return;
  lastPaint = now;
  for (const [token, a] of state.anchors) {
    const value = flow.frameBalance(a.snapshot.balance, a.next.balance, now - a.at, blockMs());
    view.paintFlowing(token, flow.formatUnits(value, a.decimals, a.places), a.places, blockMs());
  }
}

function animate(now) {
  paintFrame(now);
  requestAnimationFrame(animate);
}

/** Streams still paying first, newest first: what a person looks for among many. */
function streamOrder(block) {
  const done = (s) => (["pending", "streaming"].includes(flow.statusAt(s, block)) ? 0 : 1);
  return (x, y) => done(x) - done(y) || y.id - x.id;
}

function renderStreams(block) {
  const shown = [...state.streams].sort(streamOrder(block)).slice(0, state.rowLimit);
  const rows = shown.map((s) => {
    const incoming = sameAccount(s.receiver);
    const status = flow.statusAt(s, block);
    const streamed = flow.streamedAt(s, block);
    const bp = flow.progressBasisPoints(s, block);
    const open = status === "pending" || status === "streaming";
    const connected = sameAccount(state.connected);
    return {
      id: s.id, direction: incoming ? "in" : "out", counterparty: incoming ? s.sender : s.receiver,
      rate: `${human(s.token, s.rate)} ${symbolOf(s.token)}`,
      start: s.startBlock, startDate: dateOf(s.startBlock), end: s.endBlock, endDate: dateOf(s.endBlock),
      streamed: `${human(s.token, streamed)} of ${human(s.token, s.amount)}`, streamedWei: streamed.toString(),
      percent: `${Math.floor(bp / 100)}.${String(bp % 100).padStart(2, "0")}%`, progressCss: `${bp / 100}%`,
      status, canCancel: open && connected, canUpdate: open && connected && !incoming,
    };
  });
  view.renderStreams(rows, state.streams.length - rows.length, {
    cancel: cancelStream,
    update: chooseUpdate,
    more: () => { state.rowLimit += ROWS_PER_PAGE; renderStreams(state.block.number); },
  });
}

function activityItems() {
  const items = [];
  for (const o of state.outputs) {
    if (o.kind === "notice" && o.notice && mentions(o.notice)) {
      const n = o.notice;
      items.push({ index: o.index, block: n.block, text: describeNotice(n), event: n.event, token: n.token ?? "",
                   amount: n.amount ?? n.streamed ?? "" });
    } else if (o.kind === "voucher" && sameAccount(o.to)) {
      const executed = Boolean(o.executed) || state.voucherExecuted.get(o.index) === true;
      const stateText = executed ? "executed" : o.proven ? "executable" : "waiting for the claim";
      const withdrawal = state.outputs.find((n) => n.kind === "notice" && n.inputIndex === o.inputIndex);
      const block = withdrawal?.notice?.block ?? "";
      items.push({
        index: o.index, block, text: `Voucher #${o.index}: ${human(o.token, o.amount)} ${symbolOf(o.token)} back to L1`,
        event: "voucher", token: o.token, amount: o.amount.toString(),
        voucher: { state: stateText, canExecute: stateText === "executable" && Boolean(state.connected) },
      });
    }
  }
  return items.reverse();
}

const capitalized = (text) => text.charAt(0).toUpperCase() + text.slice(1);

function describeNotice(n) {
  const amount = (v) => `${human(n.token, BigInt(v))} ${symbolOf(n.token)}`;
  const who = (a) => (sameAccount(a) ? "you" : view.short(a));
  switch (n.event) {
    case "deposit": return `Deposited ${amount(n.amount)}`;
    case "withdrawal": return `Withdrew ${amount(n.amount)}`;
    case "transfer": return `${capitalized(who(n.sender))} sent ${amount(n.amount)} to ${who(n.receiver)}${n.spender ? ` (by ${who(n.spender)})` : ""}`;
    case "approval": return `${capitalized(who(n.owner))} allowed ${who(n.spender)} ${amount(n.amount)}`;
    case "stream_opened": return `Stream #${n.id} opened: ${amount(n.amount)} from ${who(n.sender)} to ${who(n.receiver)}, blocks ${n.start_block}–${n.end_block}`;
    case "stream_updated": return `Stream #${n.id} updated: ${amount(n.amount)} until block ${n.end_block}`;
    case "stream_canceled": {
      const s = state.streams.find((x) => x.id === n.id);
      const t = s ? s.token : state.deployment.token;
      return `Stream #${n.id} canceled by ${who(n.by)}: ${human(t, BigInt(n.streamed))} streamed, ${human(t, BigInt(n.refunded))} refunded`;
    }
    default: return n.event;
  }
}

function renderActivity() {
  const items = activityItems();
  view.renderActivity(items.slice(0, ACTIVITY_SHOWN), items.length - ACTIVITY_SHOWN, { execute: executeVoucher });
}

function renderChart() {
  const token = state.chartToken ?? state.deployment.token;
  const anchor = state.anchors.get(token.toLowerCase());
  if (!anchor || !state.account) return;
  const now = anchor.snapshot.block;
  const history = flow.historyOf(state.notices, state.account, token);
  const streams = state.streams.filter((s) => s.token.toLowerCase() === token.toLowerCase());
  const firstBlock = Math.min(now, ...history.moves.map((m) => m.block), ...history.streams.map((s) => s.snapshots[0].block));
  const lastEnd = Math.max(now + 10, ...streams.map((s) => s.endBlock + 2));
  const points = flow.sampleBlocks(firstBlock, lastEnd, 120).map((b) => [
    b, b >= now ? flow.accountAt(anchor.snapshot, streams, state.account, b).balance : flow.balanceFromHistory(history, b),
  ]);
  view.renderChart(flow.chartGeometry(points, now, { label: (v) => `${human(token, v, 2)} ${symbolOf(token)}` }));
}

// --- acting ----------------------------------------------------------------------------

function blockOf(text, what) {
  const t = String(text).trim();
  if (/^\d+$/.test(t)) return Number(t);
  const ms = Date.parse(/Z|[+-]\d\d:?\d\d$/.test(t) ? t : `${t}Z`);
  if (Number.isNaN(ms)) throw new Error(`${what}: give a block number or a date such as 2026-12-31 12:00`);
  return flow.estimateBlock(Math.floor(ms / 1000), state.block.number, state.block.timestamp, state.secondsPerBlock);
}

function tokenAmount(token, text) {
  const info = state.tokens.get(token.toLowerCase());
  return flow.parseUnits(text, info.decimals);
}

function address(text, what) {
  const t = String(text).trim();
  if (!isAddress(t, { strict: false })) throw new Error(`${what}: not an address: "${t}"`);
  return getAddress(t.toLowerCase());
}

/** The op a form describes, in the DApp's JSON (amounts as base-unit decimal strings). */
function opFromForm(action, v) {
  const token = v.token;
  const amount = () => tokenAmount(token, v.amount).toString();
  switch (action) {
    case "transfer": return { op: "transfer", token, receiver: address(v.receiver, "receiver"), amount: amount() };
    case "withdraw": return { op: "withdraw", token, amount: amount() };
    case "approve": return { op: "approve", token, spender: address(v.spender, "spender"), amount: amount() };
    case "transfer_from": return { op: "transfer_from", token, owner: address(v.owner, "owner"),
      receiver: address(v.receiver, "receiver"), amount: amount() };
    case "open_stream": {
      const op = { op: "open_stream", token, receiver: address(v.receiver, "receiver"), amount: amount() };
      const from = v.start?.trim() ? blockOf(v.start, "start") : state.block.number + 1;
      if (v.start?.trim()) op.start_block = from;
      op.duration = /^\s*\d+\s*$/.test(v.duration) ? Number(v.duration) : blockOf(v.duration, "duration") - from;
      return op;
    }
    case "update_stream": {
      const op = { op: "update_stream", stream_id: Number(v.stream_id) };
      const stream = state.streams.find((s) => s.id === op.stream_id);
      if (!stream) throw new Error(`stream #${v.stream_id} is not one of this account's`);
      if (v.amount?.trim()) op.amount = tokenAmount(stream.token, v.amount).toString();
      if (v.end?.trim()) op.end_block = blockOf(v.end, "end");
      return op;
    }
    default: throw new Error(`unknown action ${action}`);
  }
}

async function waitForOutcome(index, what) {
  view.showMessage(`${what}: input #${index} sent, waiting for the DApp…`);
  for (let i = 0; i < INPUT_WAIT_POLLS; i += 1) {
    const outcome = await state.api.inputOutcome(index);
    if (outcome.status !== "NONE") {
      state.reload = true;
      if (outcome.status === "ACCEPTED") {
        const errors = outcome.reports.map(describeError).filter(Boolean);
        view.showMessage(`${what}: input #${index} accepted${errors.length ? ` (${errors.join("; ")})` : ""}.`);
      } else {
        const reason = outcome.reports.map(describeError).filter(Boolean).join("; ") || outcome.status;
        view.showMessage(`${what}: input #${index} refused by the DApp — ${reason}`, { error: true });
      }
      return outcome;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error(`${what}: input #${index} still not processed`);
}

async function submit(form) {
  const action = form.dataset.action;
  const v = view.formValues(form);
  view.setBusy(form, true);
  let outcome;
  try {
    if (action === "deposit") {
      const amount = tokenAmount(v.token, v.amount);
      const portal = state.deployment.erc20_portal;
      if (await state.api.l1Allowance(v.token, state.connected, portal) < amount) {
        view.showMessage(`Approving the portal for ${human(v.token, amount)} ${symbolOf(v.token)}…`);
        await state.wallet.approveL1(v.token, portal, amount);
      }
      view.showMessage("Depositing through the ERC20Portal…");
      outcome = await waitForOutcome(await state.wallet.deposit(v.token, amount), "Deposit");
    } else {
      const op = opFromForm(action, v);
      outcome = await waitForOutcome(await state.wallet.send(op), action.replace("_", " "));
    }
    if (outcome.status === "ACCEPTED") form.reset();
  } catch (error) {
    fail(error);
  } finally {
    view.setBusy(form, false);
  }
}

async function cancelStream(id) {
  try {
    await waitForOutcome(await state.wallet.send({ op: "cancel_stream", stream_id: id }), `cancel stream #${id}`);
  } catch (error) {
    fail(error);
  }
}

function chooseUpdate(id) {
  const form = document.querySelector('form[data-action="update_stream"]');
  form.elements.stream_id.value = String(id);
  form.elements.amount.focus();
}

async function executeVoucher(index) {
  try {
    const output = await state.api.getOutput(index);
    if (!output.outputHashesSiblings) throw new Error(`voucher #${index} is waiting for its epoch's claim`);
    view.showMessage(`Executing voucher #${index} on L1…`);
    await state.wallet.execute(output);
    state.voucherExecuted.set(BigInt(index), true);
    view.showMessage(`Voucher #${index} executed: the tokens are back in the wallet on L1.`);
    state.reload = true;
  } catch (error) {
    fail(error);
  }
}

function csv() {
  const rows = [["block", "output", "event", "token", "amount (base units)", "description"]];
  for (const item of activityItems()) rows.push([item.block, item.index, item.event, item.token, item.amount, item.text]);
  return rows.map((r) => r.map((c) => `"${String(c).replaceAll('"', '""')}"`).join(",")).join("\n") + "\n";
}

async function project(form) {
  const v = view.formValues(form);
  try {
    const block = blockOf(v.when, "when");
    state.chartToken = v.token;
    const token = v.token;
    if (block >= state.block.number) {
      const b = await state.api.balance(token, state.account, block);
      view.showProjection(`At block ${block} (≈ ${dateOf(block)}) this account will hold ${human(token, b.balance)} ${symbolOf(token)}`
        + ` (available ${human(token, b.available)}, committed ${human(token, b.committed)}).`);
    } else {
      const held = flow.balanceFromHistory(flow.historyOf(state.notices, state.account, token), block);
      view.showProjection(`At block ${block} (≈ ${dateOf(block)}) this account held ${human(token, held)} ${symbolOf(token)}.`);
    }
    renderChart();
  } catch (error) {
    view.showProjection(describeError(error.report) ?? error.message);
  }
}

// --- bench hook (`?bench`): what bench/page.py times inside the browser -----------------

/**
 * `frames(n)`: n frames as the page paints them (from the block's snapshot, O(tokens)).
 * `naiveFrames(n)`: n frames recomputed from every stream, as a page without a snapshot
 * would (O(streams)). `block(k)`: one re-render of the stream rows as at `k` blocks on, activity
 * and chart. Each gives the milliseconds it took, over the same DOM.
 */
function installBenchHook() {
  const timed = (fn) => { const t0 = performance.now(); fn(); return performance.now() - t0; };
  window.__bench = {
    streams: () => state.streams.length,
    frames: (n) => timed(() => {
      for (let i = 0; i < n; i += 1) paintFrame(state.blockArrivedAt + ((i * 7) % blockMs()), true);
    }),
    naiveFrames: (n) => timed(() => {
      for (let i = 0; i < n; i += 1) {
        for (const [token, a] of state.anchors) {
          const streams = state.streams.filter((s) => s.token.toLowerCase() === token);
          const next = flow.accountAt(a.snapshot, streams, state.account, a.snapshot.block + 1);
          const value = flow.frameBalance(a.snapshot.balance, next.balance, (i * 7) % blockMs(), blockMs());
          view.paintFlowing(token, flow.formatUnits(value, a.decimals, a.places), a.places, blockMs());
        }
      }
    }),
    block: (ahead) => ({
      streams: timed(() => renderStreams(state.block.number + ahead)),
      activity: timed(renderActivity),
      chart: timed(renderChart),
    }),
  };
}

// --- start -----------------------------------------------------------------------------

async function viewAccount(account) {
  state.account = getAddress(account);
  const url = new URL(location.href);
  url.searchParams.set("account", state.account);
  history.replaceState(null, "", url);
  view.showAccount(state.account, { connected: sameAccount(state.connected) });
  state.anchors.clear();
  state.reload = true;  // re-read everything for this account on the next poll
}

async function connect() {
  try {
    if (!window.ethereum) throw new Error("no wallet found: install MetaMask (or any EIP-1193 wallet) to act; reading works without one");
    state.wallet = new Wallet(window.ethereum, state.deployment, state.api.l1);
    state.connected = await state.wallet.connect();
    view.showConnected(state.connected);
    await viewAccount(state.connected);
  } catch (error) {
    fail(error);
  }
}

let quietPolls = 0;

/** A voucher of this account not yet executed: its claim can arrive without a new block. */
function voucherPending() {
  return state.outputs.some((o) => o.kind === "voucher" && sameAccount(o.to) && !o.executed
    && state.voucherExecuted.get(o.index) !== true);
}

async function poll() {
  // Whether a poll is under way, and how many have ended: a test driving a fake clock
  // waits for the page to be idle before it moves time.
  document.body.dataset.polling = "1";
  try {
    const latest = await state.api.latestBlock();
    quietPolls += 1;
    if (voucherPending() && quietPolls >= VOUCHER_POLLS) state.reload = true;
    if (state.reload || state.block === null || latest.number !== state.block.number) {
      const reload = state.reload;
      state.reload = false;
      quietPolls = 0;
      await onBlock(latest, reload);
    }
  } catch (error) {
    fail(error);
  }
  document.body.dataset.polls = String(Number(document.body.dataset.polls ?? 0) + 1);
  document.body.dataset.polling = "0";
  setTimeout(poll, POLL_MS);
}

async function start() {
  state.deployment = await loadDeployment();
  state.api = new NodeApi(state.deployment);
  await addToken(state.deployment.token);
}

async function main() {
  // Listeners first: a click while the deployment is still loading waits for it, not lost.
  const ready = start();
  const whenReady = (fn) => (...args) => ready.then(() => fn(...args)).catch(fail);
  document.querySelector("#connect").addEventListener("click", whenReady(connect));
  document.querySelector("#lookup").addEventListener("submit", (e) => {
    e.preventDefault();
    ready.then(() => {
      const text = document.querySelector("#lookup-account").value.trim();
      return viewAccount(address(text, "account"));
    }).catch(fail);
  });
  for (const form of document.querySelectorAll("form[data-action]")) {
    form.addEventListener("submit", (e) => { e.preventDefault(); whenReady(submit)(form); });
  }
  document.querySelector("#projection").addEventListener("submit", (e) => { e.preventDefault(); whenReady(project)(e.target); });
  document.querySelector("#csv").addEventListener("click", () => view.download("activity.csv", csv()));
  await ready;
  view.setTokenChoices([...state.tokens.values()]);
  const wanted = new URL(location.href).searchParams.get("account");
  if (wanted) await viewAccount(address(wanted, "account"));
  if (new URL(location.href).searchParams.has("bench")) installBenchHook();
  requestAnimationFrame(animate);
  poll();
}

main().catch(fail);
