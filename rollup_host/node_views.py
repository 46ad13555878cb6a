"""The node's JSON shapes of what the host holds: inputs, outputs, reports, epochs and the
application, as the node's ``types.go`` prints them and the official clients read them
(indices and quantities as hex strings, times from block timestamps, never the wall clock).
"""

from __future__ import annotations

from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak

from l1.codec import encode_evm_advance

from .codec import GENESIS_TIMESTAMP, normalize_address, to_hex
from .node_outputs import OutputBook
from .rpc_params import iso_time, qty

__all__ = ["NodeViews", "data_availability"]

ZERO_ADDRESS = "0x" + "00" * 20
ZERO_HASH = "0x" + "00" * 32
STATUS = {"queued": "NONE", "processing": "NONE", "accepted": "ACCEPTED",
          "rejected": "REJECTED", "exception": "EXCEPTION"}
DONE = ("accepted", "rejected", "exception")


def data_availability(input_box: str) -> str:
    """``abi.encodeCall(DataAvailability.InputBox, (inputBox))`` as the factories encode it."""
    return to_hex(keccak(text="InputBox(address)")[:4] + abi_encode(["address"], [input_box]))


class NodeViews:
    """Builds the JSON of one host's items; ``book`` has its outputs, claims and executions."""

    def __init__(self, config: Any, book: OutputBook) -> None:
        self.config = config
        self.book = book

    def epoch_of(self, block: int) -> int:
        """The epoch holding ``block`` (the Authority's rule: block // epoch length)."""
        return block // self.config.epoch_length

    def input_block(self, request: Any) -> int:
        return int(request.block_number or 0)

    def input_epoch(self, request: Any) -> int:
        """The epoch of an input's block."""
        return self.epoch_of(self.input_block(request))

    def input_json(self, request: Any) -> dict[str, Any]:
        meta = request.metadata or {}
        block = int(meta.get("block_number", 0))
        timestamp = int(meta.get("block_timestamp", 0))
        randao = meta.get("prev_randao", "0x0")
        randao = int(randao, 16) if isinstance(randao, str) else int(randao)
        app = normalize_address(meta.get("app_contract", self.config.app), "app_contract")
        sender = normalize_address(meta.get("msg_sender"), "msg_sender")
        chain_id = int(meta.get("chain_id", self.config.chain_id))
        raw = encode_evm_advance(chain_id, app, sender, block, timestamp, randao,
                                 request.input_index, request.payload)
        reference = request.reference or {}
        tx_hash = reference.get("transaction_hash") or to_hex(keccak(raw))
        return {
            "epoch_index": qty(self.epoch_of(block)),
            "index": qty(request.input_index),
            "block_number": qty(block),
            "raw_data": to_hex(raw),
            "decoded_data": {
                "chain_id": qty(chain_id),
                "application_contract": app,
                "sender": sender,
                "block_number": qty(block),
                "block_timestamp": qty(timestamp),
                "prev_randao": qty(randao),
                "index": qty(request.input_index),
                "payload": to_hex(request.payload),
            },
            "status": STATUS[request.status],
            "machine_hash": None,
            "outputs_hash": None,
            # The spec and @cartesi/viem name it transaction_reference; @cartesi/rpc's
            # types name it transaction_hash (with log_index): both are sent.
            "transaction_reference": tx_hash,
            "transaction_hash": tx_hash,
            "log_index": qty(int(reference.get("log_index", 0))),
            "created_at": iso_time(timestamp),
            "updated_at": iso_time(timestamp),
        }

    def output_json(self, index: int) -> dict[str, Any]:
        item = self.book.outputs[index]
        request = item["input"]
        timestamp = int((request.metadata or {}).get("block_timestamp", 0))
        leaf, siblings = self.book.proof(index)
        return {
            "epoch_index": qty(self.input_epoch(request)),
            "input_index": qty(request.input_index),
            "index": qty(index),
            "raw_data": to_hex(item["raw"]),
            "decoded_data": dict(item["decoded"]),
            "hash": leaf,
            "output_hashes_siblings": siblings,
            "execution_transaction_hash": self.book.executions.get(index),
            "created_at": iso_time(timestamp),
            "updated_at": iso_time(timestamp),
        }

    def reports(self, finished: list[Any]) -> list[dict[str, Any]]:
        out = []
        for request in finished:
            timestamp = int((request.metadata or {}).get("block_timestamp", 0))
            for report in request.reports:
                out.append({
                    "epoch_index": qty(self.input_epoch(request)),
                    "input_index": qty(request.input_index),
                    "index": qty(len(out)),
                    "raw_data": report["payload"],
                    "created_at": iso_time(timestamp),
                    "updated_at": iso_time(timestamp),
                })
        return out

    def epochs(self, finished: list[Any], pending: list[Any], block: int) -> list[dict[str, Any]]:
        length = self.config.epoch_length
        by_epoch: dict[int, list[Any]] = {}
        for request in finished + pending:
            by_epoch.setdefault(self.input_epoch(request), []).append(request)
        out = []
        for index in sorted(by_epoch):
            inputs = by_epoch[index]
            first, last = index * length, index * length + length - 1
            claim = next((c for c in self.book.claims if c.last_block == last), None)
            done = all(r.status in DONE for r in inputs)
            if claim is not None:
                status = "CLAIM_ACCEPTED"
            elif last < block or any(self.input_epoch(r) > index
                                     for r in finished + pending):
                status = "INPUTS_PROCESSED" if done else "CLOSED"
            else:
                status = "OPEN"
            stamp = iso_time(GENESIS_TIMESTAMP if not inputs else
                             int((inputs[0].metadata or {}).get("block_timestamp", 0)))
            out.append({
                "index": qty(index),
                "first_block": qty(first),
                "last_block": qty(last),
                "input_index_lower_bound": qty(min(r.input_index for r in inputs)),
                "input_index_upper_bound": qty(max(r.input_index for r in inputs) + 1),
                "machine_hash": None,
                "outputs_merkle_root": None if claim is None else to_hex(claim.root),
                "outputs_merkle_proof": None,
                "commitment": None,
                "commitment_proof": None,
                "claim_transaction_hash": None if claim is None else claim.transaction_hash,
                "tournament_address": None,
                "status": status,
                "staged_at_block": None,
                "virtual_index": qty(index),
                "created_at": stamp,
                "updated_at": stamp,
            })
        return out

    def application_json(self, finished: list[Any], block: int, halted: Any) -> dict[str, Any]:
        cfg = self.config
        stamp = iso_time(GENESIS_TIMESTAMP)
        return {
            "name": cfg.name,
            "iapplication_address": cfg.app,
            "iconsensus_address": cfg.consensus or ZERO_ADDRESS,
            "iinputbox_address": cfg.input_box,
            "template_hash": cfg.template_hash,
            "epoch_length": qty(cfg.epoch_length),
            "claim_staging_period": qty(0),
            "withdrawal_config": {
                "guardian": ZERO_ADDRESS,
                "log2_leaves_per_account": qty(0),
                "log2_max_num_of_accounts": qty(0),
                "accounts_drive_start_index": qty(0),
                "withdrawal_output_builder": ZERO_ADDRESS,
            },
            "data_availability": data_availability(cfg.input_box),
            "consensus_type": "AUTHORITY",
            "enabled": halted is None,
            "status": "OK" if halted is None else "FAILED",
            "reason": None if halted is None else halted,
            "iinputbox_block": qty(cfg.input_box_block),
            "last_epoch_check_block": qty(block),
            "last_input_check_block": qty(block),
            "last_output_check_block": qty(block),
            "last_tournament_check_block": qty(0),
            "last_foreclose_check_block": qty(0),
            "last_accounts_drive_proved_check_block": qty(0),
            "last_withdrawal_check_block": qty(0),
            "processed_inputs": qty(len(finished)),
            "foreclose_block": qty(0),
            "foreclose_transaction": ZERO_HASH,
            "accounts_drive_proved_block": qty(0),
            "accounts_drive_proved_transaction": ZERO_HASH,
            "accounts_drive_merkle_root": ZERO_HASH,
            "created_at": stamp,
            "updated_at": stamp,
            "execution_parameters": {
                "snapshot_policy": "NONE",
                **{name: qty(0) for name in (
                    "advance_inc_cycles", "advance_max_cycles", "inspect_inc_cycles",
                    "inspect_max_cycles", "advance_inc_deadline", "advance_max_deadline",
                    "inspect_inc_deadline", "inspect_max_deadline", "load_deadline",
                    "store_deadline", "fast_deadline")},
                "max_concurrent_inspects": 1,
                "created_at": stamp,
                "updated_at": stamp,
            },
        }
