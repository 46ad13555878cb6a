// What the page reads, through calls a real Cartesi node and an L1 node offer: the node's
// JSON-RPC at /rpc (@cartesi/viem), its inspect at POST /inspect/<app>, and the L1's
// JSON-RPC (the ERC-20's symbol, decimals and balances; blocks and their times).
import { createCartesiPublicClient } from "@cartesi/viem";
import {
  createPublicClient, decodeFunctionData, erc20Abi, getAddress, hexToString, http,
} from "viem";

const TRANSFER_ABI = [{
  type: "function", name: "transfer", stateMutability: "nonpayable",
  inputs: [{ name: "to", type: "address" }, { name: "amount", type: "uint256" }],
  outputs: [{ type: "bool" }],
}];

/** The page's static configuration: the deployment it was served with (addresses). */
export async function loadDeployment(base = "") {
  const answer = await fetch(`${base}/deployment.json`, { cache: "no-store" });
  if (!answer.ok) throw new Error(`no deployment at ${base}/deployment.json (${answer.status})`);
  return answer.json();
}

export class NodeApi {
  /**
   * `deployment` names the application; `base` is the node's origin ("" for the page's
   * own); `l1Url` the L1 JSON-RPC: the deployment's `l1_rpc` if it names one, else the
   * devnet's `/anvil` beside the node (as the Cartesi CLI's devnet serves it).
   */
  constructor(deployment, { base = "", l1Url = deployment.l1_rpc ?? `${base}/anvil` } = {}) {
    this.deployment = deployment;
    this.application = getAddress(deployment.application);
    this.base = base;
    const absolute = (url) => new URL(url, location.href).href;
    this.rollups = createCartesiPublicClient({ transport: http(absolute(`${base}/rpc`)) });
    this.l1 = createPublicClient({ transport: http(absolute(l1Url)) });
    this.tokenInfo = new Map();
  }

  /** One inspect: the decoded JSON of its last report, or an Error carrying the report. */
  async inspect(route) {
    const answer = await fetch(`${this.base}/inspect/${this.application}`, {
      method: "POST", body: new TextEncoder().encode(route),
    });
    if (!answer.ok) throw new Error(`inspect ${route}: HTTP ${answer.status}`);
    const body = await answer.json();
    const reports = (body.reports ?? []).map((r) => decodeJson(r.payload));
    const last = reports[reports.length - 1];
    if (body.status !== "Accepted") {
      const error = new Error(describeError(last) ?? `inspect ${route}: ${body.status}`);
      error.report = last;
      throw error;
    }
    return last;
  }

  async balance(token, account, block) {
    const b = await this.inspect(`balance/${token}/${account}/${block}`);
    return { block: b.block, balance: BigInt(b.balance), available: BigInt(b.available),
             committed: BigInt(b.committed) };
  }

  /** Every stream of `account` (both roles), each at `block`, following the pages. */
  async streams(account, block) {
    const all = [];
    let after = 0;
    for (;;) {
      const page = await this.inspect(`streams/${account}/${block}?role=all&limit=1000&after=${after}`);
      all.push(...page.streams);
      if (page.next_after === null || page.next_after === undefined) return all;
      after = page.next_after;
    }
  }

  /** Every notice and voucher the application emitted, oldest first. */
  async outputs() {
    const all = [];
    for (let offset = 0; ; offset += 10000) {
      const { data, pagination } = await this.rollups.listOutputs({
        application: this.application, limit: 10000, offset,
      });
      all.push(...data);
      if (all.length >= Number(pagination.totalCount) || data.length === 0) return all;
    }
  }

  processedInputCount() {
    return this.rollups.getProcessedInputCount({ application: this.application });
  }

  getOutput(index) {
    return this.rollups.getOutput({ application: this.application, outputIndex: BigInt(index) });
  }

  /** An input's status and, once processed, its reports decoded. */
  async inputOutcome(index) {
    let input;
    try {
      input = await this.rollups.getInput({ application: this.application, inputIndex: BigInt(index) });
    } catch (error) {
      if (error.code === -32001) return { status: "NONE", reports: [] };  // on L1, not yet at the node
      throw error;
    }
    if (input.status === "NONE") return { status: "NONE", reports: [] };
    const { data } = await this.rollups.listReports({ application: this.application, inputIndex: BigInt(index) });
    return { status: input.status, reports: data.map((r) => decodeJson(r.rawData)) };
  }

  /** The ERC-20's symbol and decimals, read once from L1. */
  async token(address) {
    const key = address.toLowerCase();
    if (!this.tokenInfo.has(key)) {
      const [symbol, decimals] = await Promise.all([
        this.l1.readContract({ address, abi: erc20Abi, functionName: "symbol" }).catch(() => "?"),
        this.l1.readContract({ address, abi: erc20Abi, functionName: "decimals" }).catch(() => 18),
      ]);
      this.tokenInfo.set(key, { address: getAddress(address), symbol, decimals: Number(decimals) });
    }
    return this.tokenInfo.get(key);
  }

  l1Balance(token, account) {
    return this.l1.readContract({ address: token, abi: erc20Abi, functionName: "balanceOf", args: [account] });
  }

  l1Allowance(token, owner, spender) {
    return this.l1.readContract({ address: token, abi: erc20Abi, functionName: "allowance", args: [owner, spender] });
  }

  async latestBlock() {
    const block = await this.l1.getBlock();
    return { number: Number(block.number), timestamp: Number(block.timestamp) };
  }

  async blockTimestamp(number) {
    const block = await this.l1.getBlock({ blockNumber: BigInt(number) });
    return Number(block.timestamp);
  }
}

/** A notice's or report's payload as JSON (the DApp's are UTF-8 JSON); null otherwise. */
export function decodeJson(payload) {
  try {
    return JSON.parse(hexToString(payload));
  } catch {
    return null;
  }
}

/** An output as the page lists it: a notice's event, or a voucher's transfer. */
export function describeOutput(output) {
  const d = output.decodedData;
  if (d?.type === "Notice") return { kind: "notice", index: output.index, inputIndex: output.inputIndex, notice: decodeJson(d.payload) };
  if (d?.type === "Voucher") {
    let to = null;
    let amount = null;
    try {
      const call = decodeFunctionData({ abi: TRANSFER_ABI, data: d.payload });
      [to, amount] = call.args;
    } catch { /* not a transfer: shown as a plain voucher */ }
    return {
      kind: "voucher", index: output.index, inputIndex: output.inputIndex, token: d.destination,
      to, amount, proven: output.outputHashesSiblings !== null && output.outputHashesSiblings !== undefined,
      executed: output.executionTransactionHash ?? null,
    };
  }
  return { kind: "other", index: output.index, inputIndex: output.inputIndex };
}

/** A DApp report's error in words ("InsufficientFunds: ..."), or null. */
export function describeError(report) {
  const e = report?.error;
  if (!e) return null;
  return e.field ? `${e.type} (${e.field}): ${e.message}` : `${e.type}: ${e.message}`;
}
