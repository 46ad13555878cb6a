"""A do-nothing rollup DApp for the cost baseline (bench/machine_bench.py): accepts every
input and emits one notice (the input's payload) per advance, one report per inspect,
through the same rollup HTTP shim and the same HTTP client as dapp.py
(streamable_token.rollup.http_client: stdlib only; http.client's own header parsing cost
~2-3 M cycles more per call in the machine), so the difference to dapp.py is the
streaming logic and its database."""
import json
import sys

sys.path.insert(0, "/opt/dapp")
from streamable_token.rollup.http_client import Connection  # noqa: E402

conn = Connection("http://127.0.0.1:5004")
status = "accept"
while True:
    code, body = conn.post("/finish", {"status": status}, timeout=60.0)
    request = json.loads(body)
    payload = request["data"]["payload"]
    if request["request_type"] == "advance_state":
        conn.post("/notice", {"payload": payload}, timeout=60.0)
    else:
        conn.post("/report", {"payload": payload}, timeout=60.0)
    status = "accept"
