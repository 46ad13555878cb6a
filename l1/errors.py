"""Exceptions of the ``l1`` package: callers catch ``L1Error``, tests assert the leaf."""


class L1Error(Exception):
    """Base of every error raised by the ``l1`` package."""


class ToolMissing(L1Error):
    """A node package (anvil, the contract artifacts, solc) is not installed.

    Fix: ``make l1-deps`` (runs ``npm ci`` from the repository root).
    """


class CompileError(L1Error):
    """solc reported errors while compiling a test contract."""


class RpcError(L1Error):
    """The node answered a JSON-RPC request with an error object.

    Attributes: ``method``, ``code``, ``message`` and ``data`` (revert data as hex, if any).
    """

    def __init__(self, method, code, message, data=None):
        self.method = method
        self.code = code
        self.message = message
        self.data = data
        super().__init__(f"{method}: {code} {message}" + (f" data={data}" if data else ""))


class Reverted(L1Error):
    """A call or transaction reverted.

    Attributes: ``data`` (raw revert bytes or None), ``error`` (decoded custom error name
    or None), ``args`` tuple of its decoded arguments, ``receipt`` (for mined transactions).
    """

    def __init__(self, what, data=None, error=None, error_args=(), receipt=None):
        self.data = data
        self.error = error
        self.error_args = tuple(error_args)
        self.receipt = receipt
        detail = f"{error}{self.error_args}" if error else (
            "0x" + data.hex() if data else "no revert data")
        super().__init__(f"{what} reverted: {detail}")


class BridgeError(L1Error):
    """The bridge found the host or the chain in a state it cannot reconcile."""


class ClaimError(BridgeError):
    """No claim can be made now (e.g. nothing processed yet) or the claim was refused."""
