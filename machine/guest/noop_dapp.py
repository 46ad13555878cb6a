"""A do-nothing rollup DApp for the cost baseline (bench/machine_bench.py): accepts every
input and emits one notice (the input's payload) per advance, one report per inspect,
through the same rollup HTTP shim as dapp.py, with the standard library's http.client."""
import http.client
import json

conn = http.client.HTTPConnection("127.0.0.1", 5004)


def post(path, body):
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, resp.read()


status = "accept"
while True:
    code, body = post("/finish", {"status": status})
    request = json.loads(body)
    payload = request["data"]["payload"]
    if request["request_type"] == "advance_state":
        post("/notice", {"payload": payload})
    else:
        post("/report", {"payload": payload})
    status = "accept"
