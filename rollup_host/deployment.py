"""Read a deployment JSON (as ``make l1-up`` / ``l1.deploy`` writes it) into host options.

``python -m rollup_host serve --deployment l1/deployment.json`` then answers the node
JSON-RPC and node inspect for that application: its address, ERC20Portal, InputBox,
Authority, chain id, epoch length, template hash and the InputBox's deployment block.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["deployment_options"]

_REQUIRED = ("application", "erc20_portal", "input_box", "chain_id")


def deployment_options(path: str) -> dict[str, Any]:
    """``HostConfig`` fields from the deployment JSON at ``path``.

    Raises ``ValueError`` naming the file and the missing or malformed key.
    """
    try:
        with open(path) as fh:
            data = json.load(fh)
    except OSError as exc:
        raise ValueError(f"cannot read deployment {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ValueError(f"deployment {path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"deployment {path} must be a JSON object")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise ValueError(f"deployment {path} lacks {', '.join(missing)}")
    options: dict[str, Any] = {
        "app": data["application"],
        "portal": data["erc20_portal"],
        "input_box": data["input_box"],
        "chain_id": data["chain_id"],
    }
    for key, field in (("authority", "consensus"), ("epoch_length", "epoch_length"),
                       ("template_hash", "template_hash"), ("deploy_block", "input_box_block")):
        if data.get(key) is not None:
            options[field] = data[key]
    for field in ("chain_id", "epoch_length", "input_box_block"):
        value = options.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"deployment {path}: {field} must be an integer, got {value!r}")
    return options
