"""Compile ``l1/contracts/TestToken.sol`` with the pinned solc-js (offline, via node).

``python -m l1.compile`` rewrites ``l1/contracts/TestToken.json`` (abi, bytecode, compiler
version). The JSON is committed so deploys need no compiler; a test recompiles and checks
that it is still what the source gives.
"""

import argparse
import json
import shutil
import subprocess

from rollup_host import cli

from . import NODE_MODULES, REPO_ROOT
from .contracts import LOCAL_CONTRACTS
from .errors import CompileError, ToolMissing

SOURCE = LOCAL_CONTRACTS / "TestToken.sol"
OUTPUT = LOCAL_CONTRACTS / "TestToken.json"
CONTRACT = "TestToken"
SETTINGS = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "metadata": {"bytecodeHash": "none"},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
}

# solc-js's compile() takes and returns standard JSON strings; no file system access.
_NODE_SCRIPT = """
const solc = require('solc');
let input = '';
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', () => {
  process.stdout.write(JSON.stringify({version: solc.version(), output: JSON.parse(solc.compile(input))}));
});
"""


def compile_test_token(source=SOURCE):
    """Compile the token; return ``{"contract", "compiler", "abi", "bytecode"}``.

    Raises ``ToolMissing`` without node or solc-js, ``CompileError`` on solc errors.
    """
    node = shutil.which("node")
    if node is None or not (NODE_MODULES / "solc").exists():
        raise ToolMissing("node and node_modules/solc are needed: run `make l1-deps`")
    std_input = {"language": "Solidity",
                 "sources": {source.name: {"content": source.read_text()}},
                 "settings": SETTINGS}
    proc = subprocess.run([node, "-e", _NODE_SCRIPT], input=json.dumps(std_input),
                          capture_output=True, text=True, cwd=REPO_ROOT, check=False)
    if proc.returncode != 0:
        raise CompileError(proc.stderr.strip())
    result = json.loads(proc.stdout)
    out = result["output"]
    errors = [e for e in out.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError("\n".join(e.get("formattedMessage", e["message"]) for e in errors))
    contract = out["contracts"][source.name][CONTRACT]
    return {"contract": CONTRACT, "compiler": f"solc-js {result['version']}",
            "settings": {k: v for k, v in SETTINGS.items() if k != "outputSelection"},
            "abi": contract["abi"], "bytecode": "0x" + contract["evm"]["bytecode"]["object"]}


def main(argv=None):
    """Command line: compile and write the JSON next to the source."""
    parser = argparse.ArgumentParser(prog="python -m l1.compile", description=cli.summary(__doc__),
                                     formatter_class=cli.HelpFormatter)
    parser.add_argument("--out", default=str(OUTPUT),
                        help="where to write the compiled JSON: abi, bytecode, compiler version "
                             "(default l1/contracts/TestToken.json)")
    args = parser.parse_args(argv)
    art = compile_test_token()
    with open(args.out, "w") as fh:
        json.dump(art, fh, indent=1)
        fh.write("\n")
    print(f"wrote {args.out} ({art['compiler']}, {len(art['bytecode']) // 2 - 1} bytes)")


if __name__ == "__main__":
    cli.run(main)
