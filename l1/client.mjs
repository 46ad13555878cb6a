#!/usr/bin/env node
// The user's side of the L1 walkthrough with the official clients (@cartesi/viem, viem):
// read the node JSON-RPC, inspect, execute a voucher with its proof, read L1 balances.
// `node l1/client.mjs --help` lists the commands, `node l1/client.mjs COMMAND --help` one
// command's options (the USAGE table below). Prints one JSON object; exit 1 on error.
import { createCartesiPublicClient, walletActionsL1 } from "@cartesi/viem";
import { applicationAbi } from "@cartesi/viem/abi";
import {
  createPublicClient,
  createWalletClient,
  erc20Abi,
  formatUnits,
  getAddress,
  hexToBytes,
  http,
  parseAbi,
} from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { foundry } from "viem/chains";

const MNEMONIC = "test test test test test test test test test test test junk";

// Options every command takes; ETH_RPC_URL and ROLLUP_HOST_URL set --rpc and --node.
const COMMON = [
  ["--rpc URL", "the L1 node (default $ETH_RPC_URL or http://127.0.0.1:8545)"],
  ["--node URL", "the rollup host or node (default $ROLLUP_HOST_URL or http://127.0.0.1:5004; its JSON-RPC is <node>/rpc)"],
  ["--app NAME", "the application, a name or an address (default streamable-token)"],
  ["--account N", "the index of the signing account in anvil's test mnemonic (default 0)"],
  ["--timeout S", "seconds to wait for inputs, proofs and receipts (default 120)"],
];

// command -> [arguments, what it does, its own options]
const USAGE = {
  wait: ["--input N", "wait until inputs 0..N are processed (waitForInput); print the inputs, outputs and reports",
         [["--input N", "the last input index to wait for (required)"]]],
  inspect: ["PAYLOAD", "POST /inspect/<app> (the node's inspect) with PAYLOAD, e.g. balance/<token>/<account>; reports decoded",
            [["PAYLOAD", "an inspect route of the DApp, as a path or as JSON (required)"]]],
  execute: ["--output K", "wait for output K's proof (cartesi_getOutput after the claim), then executeOutput on the Application",
            [["--output K", "the voucher's output index (required; `wait` lists them)"]]],
  output: ["--output K", "one output: its decoded payload, proven yet, executed by which transaction",
           [["--output K", "the output index (required)"]]],
  approve: ["--token T --spender S --amount N", "ERC-20 approve on L1 from --account (e.g. the ERC20Portal, before a deposit)",
            [["--token T", "the ERC-20 address (required)"], ["--spender S", "who may take the tokens (required)"],
             ["--amount N", "base units (required)"]]],
  mint: ["--token T --to A --amount N", "the test token's faucet (TestToken.mint)",
         [["--token T", "the TestToken address (required)"], ["--to A", "who receives (required)"],
          ["--amount N", "base units (required)"]]],
  balance: ["--token T --account A", "an ERC-20 balance on L1, in base units and at the token's decimals",
            [["--token T", "the ERC-20 address (required)"],
             ["--account A", "whose balance: an address, or an index in anvil's test mnemonic (default 0)"]]],
  block: ["", "the L1 chain's latest block number", []],
};

function table(rows) {
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, text]) => `  ${name.padEnd(width)}  ${text}`).join("\n");
}

function help(command) {
  if (command === undefined || !(command in USAGE)) {
    return ["usage: node l1/client.mjs COMMAND [options]   (node l1/client.mjs COMMAND --help for one)", "",
            "commands:", table(Object.entries(USAGE).map(([name, [args, what]]) => [`${name} ${args}`.trim(), what])), "",
            "options of every command:", table(COMMON), ""].join("\n");
  }
  const [args, what, own] = USAGE[command];
  return [`usage: node l1/client.mjs ${command} ${args}`.trim(), "", what, "",
          ...(own.length ? ["options:", table(own), ""] : []),
          "options of every command:", table(COMMON), ""].join("\n");
}

function parseArgs(argv) {
  const [command, ...rest] = argv;
  const opts = { positional: [] };
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    return { command: "help", opts: { ...opts, of: rest[0] } };
  }
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--help" || rest[i] === "-h") return { command: "help", opts: { ...opts, of: command } };
    if (rest[i].startsWith("--")) {
      if (i + 1 >= rest.length) throw new Error(`${rest[i]} needs a value`);
      opts[rest[i].slice(2)] = rest[++i];
    } else {
      opts.positional.push(rest[i]);
    }
  }
  return { command, opts };
}

function need(opts, name) {
  if (opts[name] === undefined) throw new Error(`--${name} is required`);
  return opts[name];
}

function integer(value, name) {
  if (!/^[0-9]+$/.test(String(value))) throw new Error(`--${name} must be a non-negative integer, got ${value}`);
  return BigInt(value);
}

function show(value) {
  return JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v), 2);
}

// A payload for people: JSON if it is JSON, else UTF-8 text, else the hex as it came.
function decode(hex) {
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(hexToBytes(hex));
  } catch {
    return hex;
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function main() {
  const { command, opts } = parseArgs(process.argv.slice(2));
  if (command === "help") {
    process.stdout.write(help(opts.of));
    if (opts.of !== undefined && !(opts.of in USAGE)) throw new Error(`unknown command ${opts.of}`);
    return;
  }
  const nodeUrl = (opts.node ?? process.env.ROLLUP_HOST_URL ?? "http://127.0.0.1:5004").replace(/\/$/, "");
  const rpcUrl = opts.rpc ?? process.env.ETH_RPC_URL ?? "http://127.0.0.1:8545";
  const app = opts.app ?? "streamable-token";
  const timeoutMs = Number(integer(opts.timeout ?? "120", "timeout")) * 1000;
  const pollMs = 200;
  // balance's --account may be an address; every other command signs with a mnemonic index.
  const accountIndex = command === "balance" && /^0x/i.test(opts.account ?? "") ? "0" : opts.account ?? "0";
  const account = mnemonicToAccount(MNEMONIC, { addressIndex: Number(integer(accountIndex, "account")) });
  const node = createCartesiPublicClient({ transport: http(`${nodeUrl}/rpc`), pollingInterval: pollMs });

  if (command === "wait") {
    const last = integer(need(opts, "input"), "input");
    const inputs = [];
    for (let index = 0n; index <= last; index++) {
      // Polls cartesi_getInput until the status leaves NONE: retries spaced pollMs apart,
      // as many as the timeout allows.
      const input = await node.waitForInput({
        application: app,
        inputIndex: index,
        pollingInterval: pollMs,
        retryCount: Math.ceil(timeoutMs / pollMs),
      });
      inputs.push({ index: input.index, status: input.status, sender: input.decodedData?.sender,
                    blockNumber: input.blockNumber,
                    payload: decode(input.decodedData?.payload ?? "0x") });
    }
    const outputs = await node.listOutputs({ application: app, limit: 10000 });
    const reports = await node.listReports({ application: app, limit: 10000 });
    const count = await node.getProcessedInputCount({ application: app });
    console.log(show({
      processedInputCount: count,
      inputs,
      outputs: outputs.data.map((o) => ({ index: o.index, inputIndex: o.inputIndex, ...o.decodedData,
                                          decoded: decode(o.decodedData?.payload ?? "0x"),
                                          proven: o.outputHashesSiblings !== null })),
      reports: reports.data.map((r) => ({ index: r.index, inputIndex: r.inputIndex, payload: decode(r.rawData) })),
    }));
    return;
  }

  if (command === "inspect") {
    // Neither @cartesi/viem nor @cartesi/rpc has an inspect helper: the node's route is
    // POST /inspect/<application> with the raw payload as the body.
    const payload = opts.positional.join(" ");
    const response = await fetch(`${nodeUrl}/inspect/${app}`, { method: "POST", body: payload });
    const answer = await response.json();
    if (!response.ok) throw new Error(`inspect answered ${response.status}: ${show(answer)}`);
    console.log(show({ ...answer, decoded: answer.reports.map((r) => decode(r.payload)) }));
    return;
  }

  if (command === "execute") {
    const outputIndex = integer(need(opts, "output"), "output");
    const deadline = Date.now() + timeoutMs;
    let output;
    try {
      output = await node.getOutput({ application: app, outputIndex });
    } catch (error) {
      throw new Error(`output ${outputIndex} not found on ${nodeUrl}/rpc (${error.shortMessage ?? error.message}): ` +
                      "`node l1/client.mjs wait --input N` lists the outputs");
    }
    if (output.decodedData?.type !== "Voucher") {
      throw new Error(`output ${outputIndex} is a ${output.decodedData?.type ?? "unknown output"}: only vouchers execute`);
    }
    while (output.outputHashesSiblings === null) {
      // The proof appears once the epoch holding the output is claimed.
      if (Date.now() > deadline) throw new Error(`output ${outputIndex} has no proof after ${timeoutMs / 1000} s: is its epoch claimed?`);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      output = await node.getOutput({ application: app, outputIndex });
    }
    const { applicationAddress } = await node.getApplication({ application: app });
    const l1 = createPublicClient({ chain: foundry, transport: http(rpcUrl) });
    const wallet = createWalletClient({ account, chain: foundry, transport: http(rpcUrl) }).extend(walletActionsL1());
    // The Application executes an output once: say so by the contract's own error name
    // (its revert data does not reach us through gas estimation).
    const executed = () => l1.readContract({ address: applicationAddress, abi: applicationAbi,
                                             functionName: "wasOutputExecuted", args: [outputIndex] });
    const notAgain = () => new Error(`OutputNotReexecutable: output ${outputIndex} was already executed on L1 (a voucher executes once)`);
    if (await executed()) throw notAgain();
    let hash;
    try {
      hash = await wallet.executeOutput({ application: applicationAddress, output, account });
    } catch (error) {
      if (await executed()) throw notAgain();
      throw error;
    }
    const receipt = await l1.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`executeOutput reverted: ${hash}`);
    console.log(show({ executed: outputIndex, application: applicationAddress, transactionHash: hash,
                       blockNumber: receipt.blockNumber, output: output.decodedData }));
    return;
  }

  if (command === "approve") {
    const token = getAddress(need(opts, "token"));
    const spender = getAddress(need(opts, "spender"));
    const amount = integer(need(opts, "amount"), "amount");
    const l1 = createPublicClient({ chain: foundry, transport: http(rpcUrl) });
    const wallet = createWalletClient({ account, chain: foundry, transport: http(rpcUrl) });
    const hash = await wallet.writeContract({ address: token, abi: erc20Abi, functionName: "approve",
                                              args: [spender, amount] });
    const receipt = await l1.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`approve reverted: ${hash}`);
    console.log(show({ approved: amount, owner: account.address, spender, token, transactionHash: hash }));
    return;
  }

  if (command === "output") {
    const outputIndex = integer(need(opts, "output"), "output");
    const output = await node.getOutput({ application: app, outputIndex });
    console.log(show({ index: output.index, inputIndex: output.inputIndex, ...output.decodedData,
                       decoded: decode(output.decodedData?.payload ?? "0x"),
                       proven: output.outputHashesSiblings !== null,
                       executionTransactionHash: output.executionTransactionHash }));
    return;
  }

  if (command === "balance") {
    const token = getAddress(need(opts, "token"));
    const owner = /^0x/i.test(opts.account ?? "") ? getAddress(opts.account) : account.address;
    const l1 = createPublicClient({ chain: foundry, transport: http(rpcUrl) });
    const read = (functionName, args = []) => l1.readContract({ address: token, abi: erc20Abi, functionName, args });
    const [balance, decimals, symbol] = await Promise.all([read("balanceOf", [owner]), read("decimals"), read("symbol")]);
    console.log(show({ token, symbol, account: owner, balance, decimals, formatted: formatUnits(balance, decimals) }));
    return;
  }

  if (command === "block") {
    const l1 = createPublicClient({ chain: foundry, transport: http(rpcUrl) });
    console.log(show({ blockNumber: await l1.getBlockNumber() }));
    return;
  }

  if (command === "mint") {
    const token = getAddress(need(opts, "token"));
    const to = getAddress(need(opts, "to"));
    const amount = integer(need(opts, "amount"), "amount");
    const l1 = createPublicClient({ chain: foundry, transport: http(rpcUrl) });
    const wallet = createWalletClient({ account, chain: foundry, transport: http(rpcUrl) });
    const hash = await wallet.writeContract({ address: token, functionName: "mint", args: [to, amount],
                                              abi: parseAbi(["function mint(address to, uint256 amount)"]) });
    const receipt = await l1.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`mint reverted: ${hash}`);
    console.log(show({ minted: amount, to, token, transactionHash: hash }));
    return;
  }

  throw new Error(`unknown command ${command}: use ${Object.keys(USAGE).join(", ")} (node l1/client.mjs --help)`);
}

// `node l1/client.mjs ... | head -1`: a closed pipe ends the output quietly (exit 0).
process.stdout.on("error", (error) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

main().catch((error) => {
  console.error(`error: ${error.shortMessage ?? error.message}`);
  process.exit(1);
});
