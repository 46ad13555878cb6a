// Every action through the user's wallet (EIP-1193 `window.ethereum`): ERC-20 approvals
// and deposits through the ERC20Portal, DApp inputs through the InputBox, and voucher
// execution on the Application. ABIs and the execution action come from @cartesi/viem;
// every address comes from the deployment the page was served with, never from a
// library default (its built-in portal and InputBox addresses are those of one release).
import { walletActionsL1 } from "@cartesi/viem";
import { applicationAbi, erc20PortalAbi, inputBoxAbi } from "@cartesi/viem/abi";
import {
  createWalletClient, custom, erc20Abi, getAddress, stringToHex,
} from "viem";

export class Wallet {
  constructor(provider, deployment, l1) {
    this.provider = provider;
    this.deployment = deployment;
    this.l1 = l1;                       // a viem public client, to wait for receipts
    this.client = createWalletClient({ transport: custom(provider) }).extend(walletActionsL1());
    this.account = null;
  }

  /** Asks the wallet for an account (the wallet's own prompt). */
  async connect() {
    const [account] = await this.provider.request({ method: "eth_requestAccounts" });
    if (!account) throw new Error("the wallet gave no account");
    this.account = getAddress(account);
    const chainId = Number(await this.provider.request({ method: "eth_chainId" }));
    if (chainId !== Number(this.deployment.chain_id)) {
      throw new Error(`the wallet is on chain ${chainId}; this DApp is on chain ${this.deployment.chain_id}`);
    }
    return this.account;
  }

  async _send(request) {
    const hash = await this.client.writeContract({ account: this.account, chain: null, ...request });
    const receipt = await this.l1.waitForTransactionReceipt({ hash, pollingInterval: 250 });
    if (receipt.status !== "success") throw new Error(`transaction ${hash} reverted`);
    return receipt;
  }

  /** ERC-20 approve on L1 (for the portal, before a deposit). */
  approveL1(token, spender, amount) {
    return this._send({ address: token, abi: erc20Abi, functionName: "approve", args: [spender, amount] });
  }

  /** Deposit through the ERC20Portal (`op`, optional, runs in the same input); its input index. */
  async deposit(token, amount, op = null) {
    const execLayerData = op === null ? "0x" : stringToHex(JSON.stringify(op));
    const receipt = await this._send({
      address: this.deployment.erc20_portal, abi: erc20PortalAbi, functionName: "depositERC20Tokens",
      args: [token, this.deployment.application, amount, execLayerData],
    });
    return inputIndexOf(receipt, this.deployment.input_box);
  }

  /** One DApp input (a JSON op) through the InputBox; returns the input's index. */
  async send(op) {
    const receipt = await this._send({
      address: this.deployment.input_box, abi: inputBoxAbi, functionName: "addInput",
      args: [this.deployment.application, stringToHex(JSON.stringify(op))],
    });
    return inputIndexOf(receipt, this.deployment.input_box);
  }

  /** Execute a claimed voucher (the output with its proof, from cartesi_getOutput). The
   * Application executes an output once: a second try is refused by that error's name. */
  async execute(output) {
    const executed = () => this.l1.readContract({
      address: this.deployment.application, abi: applicationAbi, functionName: "wasOutputExecuted", args: [output.index],
    });
    const notAgain = () => new Error(`OutputNotReexecutable: voucher #${output.index} was already executed on L1`);
    if (await executed()) throw notAgain();
    let hash;
    try {
      hash = await this.client.executeOutput({
        account: this.account, chain: null, application: this.deployment.application, output,
      });
    } catch (error) {
      if (await executed()) throw notAgain();
      throw error;
    }
    const receipt = await this.l1.waitForTransactionReceipt({ hash, pollingInterval: 250 });
    if (receipt.status !== "success") throw new Error(`executeOutput reverted: ${hash}`);
    return receipt;
  }
}

/** The index of the input an addInput receipt added (InputAdded's second topic). */
export function inputIndexOf(receipt, inputBox) {
  const box = inputBox.toLowerCase();
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() === box && log.topics.length >= 3) return Number(BigInt(log.topics[2]));
  }
  throw new Error("the receipt has no InputAdded event");
}

