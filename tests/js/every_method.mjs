// Calls every node JSON-RPC method the local host serves through both official clients,
// @cartesi/viem (which converts every field and throws on a missing one) and
// @cartesi/rpc (a plain JSON-RPC client), and prints one JSON summary.
// Usage: node tests/js/every_method.mjs <host url> <application name or address>
import { createCartesiPublicClient } from "@cartesi/viem";
import { createClient } from "@cartesi/rpc";
import { http } from "viem";

const [url, application] = process.argv.slice(2);
const viem = createCartesiPublicClient({ transport: http(`${url}/rpc`) });
const rpc = createClient({ uri: `${url}/rpc` });
const show = (v) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? x.toString() : x));

const out = { viem: {}, rpc: {} };
out.viem.listApplications = await viem.listApplications();
out.viem.getApplication = await viem.getApplication({ application });
out.viem.getChainId = await viem.getChainId();
out.viem.getNodeVersion = await viem.getNodeVersion();
out.viem.listInputs = await viem.listInputs({ application, limit: 2, offset: 1, descending: true });
out.viem.getInput = await viem.getInput({ application, inputIndex: 0n });
out.viem.getProcessedInputCount = await viem.getProcessedInputCount({ application });
out.viem.listOutputs = await viem.listOutputs({ application, outputType: "Voucher" });
out.viem.getOutput = await viem.getOutput({ application, outputIndex: 0n });
out.viem.listReports = await viem.listReports({ application, inputIndex: 1n });
out.viem.getReport = await viem.getReport({ application, reportIndex: 0n });
out.viem.listEpochs = await viem.listEpochs({ application });
out.viem.getEpoch = await viem.getEpoch({ application, epochIndex: 0n });
out.viem.getLastAcceptedEpochIndex = await viem.getLastAcceptedEpochIndex({ application });
try {
  await viem.getInput({ application, inputIndex: 99n });
} catch (error) {
  out.viem.missingInput = error.shortMessage ?? error.message;
}
out.rpc.listInputs = await rpc.request("cartesi_listInputs", { application });
out.rpc.getOutput = await rpc.request("cartesi_getOutput", { application, output_index: "0x0" });
out.rpc.getProcessedInputCount = await rpc.request("cartesi_getProcessedInputCount", { application });
try {
  await rpc.request("cartesi_getApplication", { application: "no-such-app" });
} catch (error) {
  out.rpc.missingApplication = { code: error.code, message: error.message };
}
console.log(show(out));
