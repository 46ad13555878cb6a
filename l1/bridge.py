"""A local node bridge: InputBox events -> rollup host -> claims -> voucher execution.

It plays the part of the Cartesi node for local runs:

1. reads ``InputAdded`` events of our application from the InputBox, decodes each
   ``EvmAdvance`` input and feeds it, with its real metadata, to the rollup host's
   developer API ``POST {host}/dev/advance``;
2. keeps every output the host reports (notices and vouchers share one global index
   space), encoded as the contracts expect, in an ``OutputsTree``;
3. submits claims through the Authority (``submitClaim(app, lastProcessedBlockNumber,
   outputsMerkleRoot)``, where the block must be the last of an epoch and in the past;
   on anvil it mines the blocks needed);
4. executes vouchers with ``Application.executeOutput(output, (outputIndex, siblings))``.

The bridge holds no state of its own worth keeping: on start it asks the host
(``GET {host}/dev/outputs``) which inputs are already done, re-reads the chain, and
adopts the claims already accepted for the app (``ClaimAccepted`` events).

``python -m l1.bridge --deployment l1/deployment.json --host http://127.0.0.1:PORT``
waits (``--wait`` seconds, default 120) for the L1 node and the host to answer, so it may
be started before them.
"""

import argparse
import sys
import time
from dataclasses import dataclass, field

import requests

from rollup_host import cli

from .codec import decode_evm_advance, encode_notice, encode_voucher, hex_bytes
from .contracts import at
from .deploy import load_deployment
from .errors import BridgeError, ClaimError, L1Error
from .merkle import OutputsTree
from .rpc import Rpc


@dataclass
class Output:
    """One output of the machine, as the contracts see it."""

    index: int            # global output index (notices and vouchers together)
    input_index: int
    block_number: int     # L1 block of the input that emitted it
    kind: str             # "notice" or "voucher"
    data: bytes           # encoded Notice(...) / Voucher(...) call: the Merkle leaf preimage
    destination: str = None
    value: int = 0
    payload: bytes = b""


@dataclass
class ProcessedInput:
    """An input the host has finished, with the global indices of its outputs."""

    index: int
    block_number: int
    msg_sender: str
    status: str                       # "accepted" or "rejected"
    outputs: list = field(default_factory=list)
    reports: list = field(default_factory=list)


@dataclass
class Claim:
    """A claim the bridge submitted: epoch's last block, root, outputs it covers."""

    last_block: int
    root: bytes
    n_outputs: int
    tx_hash: str


class HostApi:
    """The rollup host's developer API (``/dev/advance``, ``/dev/outputs``)."""

    def __init__(self, url, timeout=60.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def advance(self, metadata, payload, reference=None):
        """Feed one advance input; return the host's answer (dict).

        ``reference``: ``{"transaction_hash", "log_index"}`` of the ``InputAdded`` event,
        which the host's node JSON-RPC reports with the input.
        """
        body = {"metadata": metadata, "payload": "0x" + bytes(payload).hex(),
                **(reference or {})}
        resp = self._session.post(f"{self.url}/dev/advance", json=body,
                                  timeout=self.timeout)
        if resp.status_code // 100 != 2:
            raise BridgeError(f"/dev/advance answered {resp.status_code}: {resp.text}")
        return resp.json()

    def claim(self, last_block, root, output_count, tx_hash):
        """Tell the host a claim was accepted, so its node JSON-RPC serves proofs."""
        body = {"last_block": last_block, "outputs_merkle_root": "0x" + bytes(root).hex(),
                "output_count": output_count, "transaction_hash": tx_hash}
        resp = self._session.post(f"{self.url}/dev/claim", json=body, timeout=self.timeout)
        if resp.status_code // 100 != 2:
            raise BridgeError(f"/dev/claim answered {resp.status_code}: {resp.text}")
        return resp.json()

    def executed(self, output_index, tx_hash):
        """Tell the host an output was executed on L1 (its JSON-RPC then says by which
        transaction)."""
        body = {"output_index": output_index, "transaction_hash": tx_hash}
        resp = self._session.post(f"{self.url}/dev/executed", json=body, timeout=self.timeout)
        if resp.status_code // 100 != 2:
            raise BridgeError(f"/dev/executed answered {resp.status_code}: {resp.text}")
        return resp.json()

    def finished(self):
        """The inputs the host has finished, as a list of answers like ``advance``'s."""
        resp = self._session.get(f"{self.url}/dev/outputs", timeout=self.timeout)
        if resp.status_code // 100 != 2:
            raise BridgeError(f"/dev/outputs answered {resp.status_code}: {resp.text}")
        body = resp.json()
        if isinstance(body, dict):
            body = body.get("inputs", body.get("outputs", []))
        return body


class Bridge:
    """Drive one application's inputs, claims and vouchers on a local chain.

    Parameters: ``rpc`` (``Rpc``), ``deployment`` (dict from ``l1.deploy``), ``host_url``
    of the rollup host, ``claimer`` (defaults to the deployment's authority owner),
    ``resume`` (ask the host which inputs it already finished).
    """

    def __init__(self, rpc, deployment, host_url, claimer=None, resume=True):
        self.rpc = rpc
        self.deployment = deployment
        self.host = HostApi(host_url)
        self.input_box = at(rpc, "InputBox", deployment["input_box"])
        self.application = at(rpc, "Application", deployment["application"])
        self.authority = at(rpc, "Authority", deployment["authority"])
        self.app = self.application.address
        self.claimer = claimer or deployment.get("authority_owner") or rpc.accounts()[0]
        self.epoch_length = self.authority.call("getEpochLength")
        self.next_block = deployment["deploy_block"]
        self.inputs = []       # ProcessedInput, by input index
        self.outputs = []      # Output, by global output index
        self.tree = OutputsTree()
        self.claims = []
        self._claims_loaded = False
        self._refs = {}        # input index -> {"transaction_hash", "log_index"}
        self._reported = set()  # claims' last blocks the host has been told about
        self._executions_from = deployment["deploy_block"]  # next block to scan
        self._done_on_host = {}
        if resume:
            for answer in self.host.finished():
                self._done_on_host[int(answer["input_index"])] = answer

    # -- inputs ------------------------------------------------------------------
    def fetch_inputs(self, to_block=None):
        """Decoded ``AdvanceInput``s added for our app since the last fetch, in order."""
        latest = self.rpc.block_number()
        to_block = latest if to_block is None else min(to_block, latest)
        if to_block < self.next_block:
            return []
        app_topic = bytes(12) + hex_bytes(self.app)
        events = self.input_box.events("InputAdded", self.next_block, to_block,
                                       topics=[app_topic])
        self.next_block = to_block + 1
        out = []
        for args, log in events:
            adv = decode_evm_advance(args["input"])
            self._refs[adv.index] = {"transaction_hash": log["transactionHash"],
                                     "log_index": int(log["logIndex"], 16)}
            out.append(adv)
        return out

    def step(self, to_block=None):
        """Feed every new input (up to ``to_block``) to the host; return them processed."""
        done = []
        for adv in self.fetch_inputs(to_block):
            if adv.index < len(self.inputs):
                continue                       # already seen (overlapping ranges)
            if adv.index != len(self.inputs):
                raise BridgeError(f"input {adv.index} arrived, expected {len(self.inputs)}")
            answer = self._done_on_host.pop(adv.index, None)
            if answer is None:
                answer = self.host.advance(adv.metadata(), adv.payload,
                                           self._refs.get(adv.index))
            done.append(self._record(adv, answer))
        return done

    def _record(self, adv, answer):
        if int(answer.get("input_index", adv.index)) != adv.index:
            raise BridgeError(f"host answered for input {answer.get('input_index')}, "
                              f"fed {adv.index}")
        status = answer.get("status")
        processed = ProcessedInput(adv.index, adv.block_number, adv.msg_sender, status,
                                   reports=list(answer.get("reports") or []))
        raw = [("notice", n) for n in answer.get("notices") or []]
        raw += [("voucher", v) for v in answer.get("vouchers") or []]
        raw.sort(key=lambda item: int(item[1]["index"]))
        for kind, item in raw:
            index = int(item["index"])
            if index != len(self.outputs):
                raise BridgeError(f"host gave output index {index}, "
                                  f"expected {len(self.outputs)}")
            payload = hex_bytes(item["payload"])
            if kind == "notice":
                out = Output(index, adv.index, adv.block_number, kind, encode_notice(payload),
                             payload=payload)
            else:
                data = encode_voucher(item["destination"], item.get("value", 0), payload)
                out = Output(index, adv.index, adv.block_number, kind, data,
                             destination=item["destination"],
                             value=_int(item.get("value", 0)), payload=payload)
            self.outputs.append(out)
            self.tree.append(out.data)
            processed.outputs.append(index)
        self.inputs.append(processed)
        return processed

    # -- claims ------------------------------------------------------------------
    def epoch_end(self, block):
        """The last block of the epoch holding ``block``."""
        return block - block % self.epoch_length + self.epoch_length - 1

    def load_claims(self):
        """Adopt the claims already accepted on chain for our app (once per bridge).

        A restarted bridge thus neither re-claims a claimed epoch (the Authority would
        refuse: ``NotFirstClaim``) nor lacks the roots its proofs need. Each root is
        checked against the outputs the host reports; a mismatch raises ``BridgeError``.
        """
        if self._claims_loaded:
            return
        app_topic = bytes(12) + hex_bytes(self.app)
        events = self.authority.events("ClaimAccepted", self.deployment["deploy_block"],
                                       topics=[app_topic])
        for args, log in events:
            end = args["lastProcessedBlockNumber"]
            self.step(to_block=end)
            n = sum(1 for o in self.outputs if o.block_number <= end)
            root = args["outputsMerkleRoot"]
            if self.tree.root(n) != root:
                raise BridgeError(f"claim for block {end} has root 0x{root.hex()}, but the "
                                  f"host's {n} outputs give 0x{self.tree.root(n).hex()}")
            if not any(c.last_block == end for c in self.claims):
                self.claims.append(Claim(end, root, n, log["transactionHash"]))
        self.claims.sort(key=lambda c: c.last_block)
        self._claims_loaded = True
        self.report_claims()

    def report_claims(self):
        """Tell the host about every claim it has not heard of yet (idempotent there)."""
        for claim in self.claims:
            if claim.last_block not in self._reported:
                self.host.claim(claim.last_block, claim.root, claim.n_outputs, claim.tx_hash)
                self._reported.add(claim.last_block)

    def claim(self, mine=True):
        """Claim the outputs of every input up to the end of the current epoch.

        Processes pending inputs, takes the epoch of the last one, mines until that
        epoch is in the past (``mine=False``: returns None instead), feeds any inputs
        that arrived meanwhile, then submits ``submitClaim(app, epochEnd, root)``.
        Returns the new ``Claim``, or None when nothing new needs claiming.
        """
        self.load_claims()
        self.step()
        if not self.inputs:
            return None
        end = self.epoch_end(self.inputs[-1].block_number)
        if self.claims and self.claims[-1].last_block >= end:
            return None
        current = self.rpc.block_number()
        if current < end:          # the claim's block must exceed `end`
            if not mine:
                return None
            self.rpc.mine(end - current)
        self.step(to_block=end)
        n = sum(1 for o in self.outputs if o.block_number <= end)
        root = self.tree.root(n)
        receipt = self.authority.transact("submitClaim", self.app, end, root,
                                          sender=self.claimer)
        claim = Claim(end, root, n, receipt["transactionHash"])
        self.claims.append(claim)
        self.report_claims()
        return claim

    # -- vouchers ----------------------------------------------------------------
    def proof(self, output_index):
        """``(outputIndex, siblings)`` for an output, against the latest claim holding it.

        Raises ``ClaimError`` when no submitted claim covers the output yet.
        """
        self.load_claims()
        for claim in reversed(self.claims):
            if claim.n_outputs > output_index:
                return self.tree.proof(output_index, claim.n_outputs)
        raise ClaimError(f"output {output_index} is not in any claim yet")

    def validate(self, output_index):
        """Ask the Application whether the output and its proof are valid (view call);
        raises ``Reverted`` (e.g. ``InvalidOutputsMerkleRoot``) if not."""
        out = self.outputs[output_index]
        self.application.call("validateOutput", out.data, self.proof(output_index))

    def was_executed(self, output_index):
        """True once the Application has executed this output."""
        return self.application.call("wasOutputExecuted", output_index)

    def execute(self, output_index, sender=None, gas=None):
        """Execute voucher ``output_index`` on the Application; return the receipt.

        ``sender`` defaults to the claimer (anyone may execute). Raises ``Reverted``
        (``OutputNotReexecutable`` the second time, for instance).
        """
        out = self.outputs[output_index]
        if out.kind != "voucher":
            raise BridgeError(f"output {output_index} is a {out.kind}, not a voucher")
        return self.application.transact("executeOutput", out.data,
                                         self.proof(output_index),
                                         sender=sender or self.claimer, gas=gas)

    def report_executions(self):
        """Tell the host of every ``OutputExecuted`` since the last call; return the
        indices. Whoever executed the voucher (the bridge, a user with @cartesi/viem)."""
        latest = self.rpc.block_number()
        if latest < self._executions_from:
            return []
        events = self.application.events("OutputExecuted", self._executions_from, latest)
        done = []
        for args, log in events:
            self.host.executed(int(args["outputIndex"]), log["transactionHash"])
            done.append(int(args["outputIndex"]))
        self._executions_from = latest + 1
        return done

    def execute_pending(self, sender=None):
        """Execute every claimed voucher not executed yet; return their indices."""
        self.load_claims()
        claimed = self.claims[-1].n_outputs if self.claims else 0
        done = []
        for out in self.outputs[:claimed]:
            if out.kind == "voucher" and not self.was_executed(out.index):
                self.execute(out.index, sender=sender)
                done.append(out.index)
        return done

    def run(self, interval=1.0, claim=True, execute=False, stop=None, log=print):
        """Loop: feed inputs; claim closed epochs; optionally execute vouchers.

        ``stop``: a ``threading.Event`` ending the loop. Claims here never mine: they wait
        for the chain to pass the epoch's end (``anvil --block-time`` or other traffic).
        """
        while stop is None or not stop.is_set():
            try:
                for p in self.step():
                    log(f"input {p.index} (block {p.block_number}, from {p.msg_sender}): "
                        f"{p.status}, outputs {p.outputs}")
                if claim:
                    made = self.claim(mine=False)
                    if made:
                        log(f"claim for block {made.last_block}: 0x{made.root.hex()} "
                            f"({made.n_outputs} outputs)")
                if execute:
                    for index in self.execute_pending():
                        log(f"executed voucher {index}")
                for index in self.report_executions():
                    log(f"voucher {index} executed on L1")
            except (L1Error, requests.RequestException) as exc:
                log(f"bridge: {exc}")
            time.sleep(interval)


def _int(value):
    if isinstance(value, str):
        return int(value, 16) if value.startswith("0x") else int(value)
    return int(value)


def wait_until_up(rpc, host_url, timeout, log=print, poll=0.25):
    """Poll the L1 node (``eth_chainId``) and the rollup host (``GET /dev/block``) until
    both answer, saying once what it waits for; raise ``BridgeError`` after ``timeout``
    seconds (0: one try)."""
    deadline = time.monotonic() + timeout
    waiting_for = None
    session = requests.Session()
    try:
        while True:
            missing = None
            try:
                rpc.chain_id()
            except L1Error:
                missing = f"the L1 node at {rpc.url} (`make l1-up`)"
            if missing is None:
                try:
                    session.get(f"{host_url.rstrip('/')}/dev/block", timeout=5).raise_for_status()
                except requests.RequestException:
                    missing = (f"the rollup host at {host_url} (`python -m rollup_host up "
                               "--deployment l1/deployment.json`)")
            if missing is None:
                return
            if time.monotonic() >= deadline:
                raise BridgeError(f"no answer from {missing} after {timeout:g} s (--wait)")
            if missing != waiting_for:
                log(f"waiting for {missing}, up to {timeout:g} s (--wait)")
                waiting_for = missing
            time.sleep(poll)
    finally:
        session.close()


def main(argv=None):
    """Command line: run the bridge loop until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m l1.bridge", description=cli.summary(__doc__),
                                     formatter_class=cli.HelpFormatter)
    parser.add_argument("--deployment", default="l1/deployment.json",
                        help="the deployment JSON `make l1-up` wrote")
    parser.add_argument("--host", required=True, help="rollup host URL, e.g. http://127.0.0.1:5004")
    parser.add_argument("--rpc", help="L1 node URL (default: the deployment's rpc_url)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between two looks at the chain")
    parser.add_argument("--wait", type=float, default=120.0, metavar="SECONDS",
                        help="how long to wait at start for the L1 node and the host to answer")
    parser.add_argument("--no-claim", action="store_true", help="feed inputs but submit no claims")
    parser.add_argument("--execute", action="store_true", help="execute claimed vouchers")
    args = parser.parse_args(argv)
    cli.stop_on_signals()
    try:
        deployment = load_deployment(args.deployment)
    except (OSError, KeyError, ValueError) as exc:
        print(f"error: deployment {args.deployment}: {exc} (`make l1-up` writes it)", file=sys.stderr)
        return 2
    rpc = Rpc(args.rpc or deployment["rpc_url"])
    try:
        wait_until_up(rpc, args.host, args.wait, log=lambda line: print(line, flush=True))
        bridge = Bridge(rpc, deployment, args.host)
    except requests.ConnectionError:
        print(f"error: no rollup host at {args.host}: start it first "
              "(python -m rollup_host up --deployment ...)", file=sys.stderr)
        return 2
    except L1Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    try:  # Ctrl-C from here on is the way to stop: exit 0, quietly
        print(f"bridge: feeding {args.host} from {rpc.url} (application {bridge.app}); Ctrl-C stops",
              flush=True)
        bridge.run(args.interval, claim=not args.no_claim, execute=args.execute,
                   log=lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    cli.run(main)
