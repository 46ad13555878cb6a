"""Which delivery a DApp's call answers: the attempt ids of the restart extension.

A request reaches the DApp through ``/finish``, and may reach it more than once: a restart
``/finish`` (``X-Rollup-Restart: 1``) hands the request in flight out again with its
outputs dropped. Each such delivery is an *attempt*, with an id of its own that the answer
carries (``X-Rollup-Attempt``). A DApp that echoes the id on every output and on its next
``/finish`` ties each call to the delivery it answers, and the host takes the call only if
that delivery is the latest one: any other is stale (it reached the host late, through a
stalled proxy, after the DApp gave up on it) and is refused with 409, changing nothing.
So a late restart can at worst make the holder's later calls get 409; the holder then
restarts in turn and does the request again from the start. No request is ever finished
with only part of its outputs, nor with an output of another delivery.

A restart may also carry ``X-Rollup-Request``: an id the caller makes once per call and
keeps on that call's retries. A restart whose id was answered already is a duplicate (its
first send arrived late, or its answer was lost): while the delivery it got is still in
flight it is answered again as it was, changing nothing; otherwise it is refused with 409.

Calls without these headers are taken as before (the official rollup HTTP server never
sends them, nor do other DApps). Ids are ``<tag>.<n>``: ``tag`` is drawn per host, so an
id from before a host restart never matches one after it.
"""

from __future__ import annotations

import collections
import secrets

from .model import HostError

__all__ = ["ATTEMPT_HEADER", "REQUEST_HEADER", "Attempts", "StaleCall"]

ATTEMPT_HEADER = "X-Rollup-Attempt"
REQUEST_HEADER = "X-Rollup-Request"
KEPT_REQUEST_IDS = 1024  # restart ids remembered; an older duplicate is taken as a new restart


class StaleCall(HostError):
    """A call answering another delivery than the latest one: refused with 409."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=409)


class Attempts:
    """The latest delivery's attempt id and the restart ids already answered.

    Holds no lock: ``HostState`` calls it under its own, with ``in_flight`` saying whether
    the latest delivery is still in flight (not finished yet).
    """

    def __init__(self) -> None:
        self._tag = secrets.token_hex(4)
        self._count = 0
        self.latest: str | None = None  # the latest delivery, in flight or finished
        self._answered: collections.OrderedDict[str, str] = collections.OrderedDict()

    def new(self, request_id: str | None = None) -> str:
        """A new delivery: its attempt id (remembered as the answer to ``request_id``)."""
        self._count += 1
        self.latest = f"{self._tag}.{self._count}"
        if request_id is not None:
            self._answered[request_id] = self.latest
            if len(self._answered) > KEPT_REQUEST_IDS:
                self._answered.popitem(last=False)
        return self.latest

    def check_output(self, what: str, attempt: str | None, in_flight: bool) -> None:
        """Refuse an output (``what``) that answers another delivery than the one in flight."""
        if attempt is None or (in_flight and attempt == self.latest):
            return
        now = (f"the request in flight is attempt {self.latest}" if in_flight
               else "nothing is in flight")
        raise StaleCall(f"stale {what}: it answers attempt {attempt}, {now}; nothing was "
                        f"kept (a /finish with X-Rollup-Restart: 1 delivers the request again)")

    def check_finish(self, attempt: str | None) -> None:
        """Refuse a ``/finish`` that answers another delivery than the latest one (a
        ``/finish`` sent again after a 202 answers the latest, finished, delivery)."""
        if attempt is None or attempt == self.latest:
            return
        raise StaleCall(f"stale /finish: it answers attempt {attempt}, the latest delivery is "
                        f"attempt {self.latest}; nothing was finished (a /finish with "
                        f"X-Rollup-Restart: 1 delivers the request in flight again)")

    def answered(self, request_id: str | None, in_flight: bool) -> str | None:
        """For a restart: the attempt its ``request_id`` already got if that delivery is
        still in flight (answer it again), None if the id is new; 409 otherwise."""
        if request_id is None or request_id not in self._answered:
            return None
        attempt = self._answered[request_id]
        if in_flight and attempt == self.latest:
            return attempt
        raise StaleCall(f"duplicate restart: request {request_id} was answered with attempt "
                        f"{attempt}, the latest delivery is attempt {self.latest}; nothing changed")
