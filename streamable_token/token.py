"""StreamableToken: balances that flow block by block, kept in SQLite, read lazily.

The service layer between callers and storage: it validates, loads the rows a call needs,
lets the pure schedule functions compute, has the ledger move the money, and stores the
result. Every mutating call runs in the unit of work's :class:`EngineCalls` (a savepoint in
the caller's transaction), so a refusal raised half-way leaves nothing behind, both on
its own and inside the caller's transaction (one rollup input = one transaction, owned
by the DApp).

Cost per call is a handful of indexed row reads and writes, whatever the number of
streams: a ledger row per party, plus O(log blocks) tree nodes for accounts with many
pending stream events.
"""
from __future__ import annotations

import sqlite3
from typing import Any, Callable, NamedTuple, Optional, Union

from streamable_token import amounts, ledger_store, store
from streamable_token.addresses import checksum, parse_address
from streamable_token.constants import MAX_BLOCK, MAX_ID, MAX_UINT256
from streamable_token.errors import (
    InsufficientAllowance,
    InsufficientFunds,
    InvalidInput,
    StreamClosed,
    Unauthorized,
    UnknownStream,
)
from streamable_token.ledger import Balance, Ledger, Overdraft, Supply
from streamable_token.ledger_store import BOTH_SIDES, IN_SIDE, INCOMING, NO_SIDE, OUT_SIDE, OUTGOING
from streamable_token.schedule import segment_events, split_amount
from streamable_token.schema import connect, ensure_schema
from streamable_token.stream import Stream
from streamable_token.unit_of_work import EngineCalls

ROLES = ("incoming", "outgoing", "all")


class TokenTotals(NamedTuple):
    """A token in a page of :meth:`StreamableToken.tokens_page`."""

    cursor: int
    token: str
    deposited: int
    withdrawn: int


_CURSOR = "the next_after of the previous page, an integer in 0..2^63-1"


def _take(take: Callable[[Ledger, int], None], ledger: Ledger, amount: int, account: Union[bytes, str],
          token: Union[bytes, str], block: int) -> None:
    """``take(ledger, amount)`` (:meth:`Ledger.debit` or :meth:`Ledger.commit`), or the
    refusal naming who lacks what: the ledger keeps the rule, this names the parties."""
    try:
        take(ledger, amount)
    except Overdraft as err:
        raise InsufficientFunds(_named(account), amount, err.held, block, _named(token)) from None


def _named(address: Union[bytes, str]) -> str:
    return address if isinstance(address, str) else checksum(address)


def _check_int(field: str, value: Any, low: int, high: int, expected: str) -> int:
    if type(value) is not int or not low <= value <= high:
        raise InvalidInput(field, value, expected)
    return value


def _check_block(value: Any, field: str = "block") -> int:
    return _check_int(field, value, 0, MAX_BLOCK, "an integer block number in 0..2^62")


class StreamableToken:
    """Many ERC-20 tokens' streaming balances in one SQLite database.

    ``db`` is a path (a database of the engine's own, opened by
    :func:`streamable_token.schema.connect`) or any open ``sqlite3`` connection, such as a
    host DApp's own: the engine's tables (all named ``st_*``) are created in it if
    missing. The engine never commits or rolls back a transaction it did not open: on a
    connection in the sqlite3 module's default (implicit) transaction mode, a call opens
    the transaction as a DML statement would and leaves it to the caller to commit or roll
    back; inside any open transaction each call is a savepoint, so a refused call undoes
    only itself. On an ``isolation_level=None`` connection outside a transaction each call
    commits on its own (autocommit, as asked). Blocks passed to mutating calls must not go
    back in time for the accounts they touch.
    """

    def __init__(self, db: Union[str, sqlite3.Connection]) -> None:
        if isinstance(db, sqlite3.Connection):
            ensure_schema(db)
            self.conn = db
        else:
            self.conn = connect(db)
        self._calls = EngineCalls(self.conn)

    def close(self) -> None:
        self.conn.close()

    # --- atomicity ----------------------------------------------------------------

    def undone_by_caller(self) -> Any:
        """For a caller that undoes its whole transaction (or its own savepoint) whenever
        an engine call inside raises, as the router does: the calls then skip their own
        savepoint, two statements each that such a caller makes redundant. A context
        manager: ``with engine.undone_by_caller(): ...``."""
        return self._calls.undone_by_caller()

    def _atomic(self) -> Any:
        return self._calls.call(self.conn)

    # --- ledgers ------------------------------------------------------------------

    def _payer(self, found: Optional[tuple[Ledger, int, int]], token: bytes, account: bytes, block: int,
               amount: int, take: Callable[[Ledger, int], None], sides: int = IN_SIDE) -> tuple[Ledger, int, int]:
        """``found`` (a lookup of the account's ``token`` ledger) with its ``sides`` (the
        incoming one at least: it decides what is available) settled to ``block`` and
        ``amount`` taken from what is available by ``take`` (:meth:`Ledger.debit` or
        :meth:`Ledger.commit`), or a refusal naming the account and the token."""
        if found is None:
            raise InsufficientFunds(checksum(account), amount, 0, block, checksum(token))
        self._settle(found[0], block, sides | IN_SIDE)
        _take(take, found[0], amount, account, token, block)
        return found

    def _payer_and_payee(
        self, token: bytes, payer: bytes, payee: bytes, block: int, amount: int, take: Callable[[Ledger, int], None],
        payer_sides: int, payee_sides: int,
    ) -> tuple[Ledger, Ledger, int, int, int]:
        """(payer's ledger, payee's ledger, token id, payer id, payee id), with the sides
        named settled to ``block``, found in one statement: ``amount`` is taken from the
        payer's available funds by ``take`` (see :meth:`_payer`); the payee's account and
        ledger are created when new."""
        found_payer, found_payee = ledger_store.ledgers_at(
            self.conn, token, (payer, payee), block, (payer_sides | IN_SIDE, payee_sides)
        )
        src, token_id, payer_id = self._payer(found_payer, token, payer, block, amount, take, payer_sides)
        if found_payee is not None:
            dst, _, payee_id = found_payee
            self._settle(dst, block, payee_sides)
        else:
            payee_id = store.ensure_account(self.conn, payee)
            dst = ledger_store.new_ledger(self.conn, payee_id, token_id, block)
        return src, dst, token_id, payer_id, payee_id

    def _settle(self, ledger: Ledger, block: int, sides: int) -> None:
        """Time only moves forward for an account: settle its ``sides`` to ``block`` (the
        account's last change from now on) or refuse."""
        if block < ledger.block:
            raise InvalidInput("block", block, f">= {ledger.block}, the account's last change")
        ledger_store.settle(self.conn, ledger, block, sides)

    # --- deposits and withdrawals -------------------------------------------------

    def mint(self, token: Any, account: Any, amount: int, block: Optional[int] = None) -> None:
        """Credit a deposit. ``block``, when given, is when it happened (the input's block)."""
        t = parse_address(token, "token")
        a = parse_address(account, "account")
        amount = amounts.amount(amount)
        if block is not None:
            block = _check_block(block)
        with self._atomic():
            # a credit settles neither side: what flows later adds to it either way
            found = None if block is None else ledger_store.ledger_at(self.conn, t, a, block, NO_SIDE)
            if found is not None:
                ledger, token_id, _ = found
                self._settle(ledger, block, NO_SIDE)
            else:
                token_id = store.ensure_token(self.conn, t)
                account_id = store.ensure_account(self.conn, a)
                # with a block, the ledger was just looked for: it does not exist yet
                ledger = None if block is not None else ledger_store.load_ledger(self.conn, account_id, token_id)
                if ledger is None:
                    ledger = ledger_store.new_ledger(self.conn, account_id, token_id, 0 if block is None else block)
            supply = Supply(*store.load_token_totals(self.conn, token_id))
            try:
                supply = supply.minted(amount)
            except Overdraft:
                raise InvalidInput(
                    "amount", amount, f"at most {supply.room} so that the total supply of token {checksum(t)}"
                    " stays within uint256"
                ) from None
            ledger.credit(amount)
            ledger_store.store_ledger(self.conn, ledger)
            store.store_token_totals(self.conn, token_id, *supply)

    def burn(self, token: Any, account: Any, amount: int, block: int) -> None:
        """Debit a withdrawal from what is available at ``block`` (never committed funds)."""
        t = parse_address(token, "token")
        a = parse_address(account, "account")
        amount = amounts.amount(amount)
        block = _check_block(block)
        with self._atomic():
            found = ledger_store.ledger_at(self.conn, t, a, block, IN_SIDE)
            ledger, token_id, _ = self._payer(found, t, a, block, amount, Ledger.debit)
            ledger_store.store_ledger(self.conn, ledger)
            supply = Supply(*store.load_token_totals(self.conn, token_id)).burned(amount)
            store.store_token_totals(self.conn, token_id, *supply)

    def transfer(self, token: Any, sender: Any, receiver: Any, amount: int, block: int) -> None:
        """Move available funds at once."""
        t = parse_address(token, "token")
        s = parse_address(sender, "sender")
        r = parse_address(receiver, "receiver")
        if r == s:
            raise InvalidInput("receiver", checksum(r), "an account other than the sender")
        amount = amounts.amount(amount)
        block = _check_block(block)
        with self._atomic():
            src, dst, _, _, _ = self._payer_and_payee(t, s, r, block, amount, Ledger.debit, IN_SIDE, NO_SIDE)
            dst.credit(amount)
            ledger_store.store_ledger(self.conn, src)
            ledger_store.store_ledger(self.conn, dst)

    # --- allowances (ERC-20 approve / allowance / transferFrom) -------------------

    def approve(self, token: Any, owner: Any, spender: Any, amount: int, block: int) -> None:
        """Let ``spender`` take up to ``amount`` of the owner's ``token`` (sets, not adds;
        0 revokes). :data:`MAX_UINT256` is infinite: spending never decreases it."""
        t = parse_address(token, "token")
        o = parse_address(owner, "owner")
        s = parse_address(spender, "spender")
        if s == o:
            raise InvalidInput("spender", checksum(s), "an account other than the owner")
        amount = amounts.allowance(amount)
        _check_block(block)
        with self._atomic():
            if amount == 0:
                ids = self._allowance_ids(t, o, s)
                if ids is not None:
                    store.store_allowance(self.conn, *ids, 0)
                return
            ids = (store.ensure_token(self.conn, t), store.ensure_account(self.conn, o),
                   store.ensure_account(self.conn, s))
            store.store_allowance(self.conn, *ids, amount)

    def allowance(self, token: Any, owner: Any, spender: Any) -> int:
        """What ``spender`` may still take of the owner's ``token`` (0 when never approved)."""
        t = parse_address(token, "token")
        o = parse_address(owner, "owner")
        s = parse_address(spender, "spender")
        ids = self._allowance_ids(t, o, s)
        return 0 if ids is None else store.load_allowance(self.conn, *ids)

    def _allowance_ids(self, token: bytes, owner: bytes, spender: bytes) -> Optional[tuple[int, int, int]]:
        token_id = store.find_token(self.conn, token)
        owner_id = store.find_account(self.conn, owner)
        spender_id = store.find_account(self.conn, spender)
        if token_id is None or owner_id is None or spender_id is None:
            return None
        return token_id, owner_id, spender_id

    def _spend_allowance(self, token: bytes, owner: bytes, spender: bytes, amount: int) -> int:
        """Take ``amount`` off the spender's allowance (an infinite one stays as it is) or
        refuse; returns the spender's account id."""
        ids = self._allowance_ids(token, owner, spender)
        allowed = 0 if ids is None else store.load_allowance(self.conn, *ids)
        if allowed < amount:
            raise InsufficientAllowance(checksum(owner), checksum(spender), amount, allowed, checksum(token))
        assert ids is not None
        if allowed != MAX_UINT256:
            store.store_allowance(self.conn, *ids, allowed - amount)
        return ids[2]

    def transfer_from(self, token: Any, spender: Any, owner: Any, receiver: Any, amount: int, block: int) -> None:
        """Move ``amount`` of the owner's available funds to ``receiver`` on the spender's
        allowance, which it spends. Refused, with nothing changed, unless both the
        allowance and the owner's available balance cover it."""
        t = parse_address(token, "token")
        sp = parse_address(spender, "spender")
        o = parse_address(owner, "owner")
        r = parse_address(receiver, "receiver")
        if r == o:
            raise InvalidInput("receiver", checksum(r), "an account other than the owner")
        amount = amounts.amount(amount)
        block = _check_block(block)
        with self._atomic():
            self._spend_allowance(t, o, sp, amount)
            self.transfer(t, o, r, amount, block)

    # --- streams ------------------------------------------------------------------

    def open_stream(
        self,
        token: Any,
        sender: Any,
        receiver: Any,
        amount: int,
        start_block: int,
        duration: int,
        block: int,
        by: Any = None,
    ) -> int:
        """Commit ``amount`` of the sender's available funds to a stream; returns its id.

        It pays ``amount // duration`` per block from ``start_block`` and the remainder at
        the last block, so it is funded in full at open and can never fail later.

        ``by``, when another account than the sender, is an operator opening the stream
        from the sender's funds: ``amount`` spends its allowance from the sender, the
        stream stays the sender's (refunds go to the sender), and the operator may cancel
        and update it (:meth:`cancel_stream`, :meth:`update_stream`).
        """
        return self.new_stream(token, sender, receiver, amount, start_block, duration, block, by=by).id

    def new_stream(
        self,
        token: Any,
        sender: Any,
        receiver: Any,
        amount: int,
        start_block: int,
        duration: int,
        block: int,
        by: Any = None,
    ) -> Stream:
        """As :meth:`open_stream`, returning the stream as :meth:`get_stream` would."""
        t = parse_address(token, "token")
        s = parse_address(sender, "sender")
        operator = None if by is None else parse_address(by, "by")
        if operator == s:
            operator = None
        r = parse_address(receiver, "receiver")
        if r == s:
            raise InvalidInput("receiver", checksum(r), "an account other than the sender")
        amount = amounts.amount(amount)
        block = _check_block(block)
        duration = _check_int("duration", duration, 1, MAX_BLOCK, "a whole number of blocks in 1..2^62")
        start_block = _check_block(start_block, "start_block")
        if start_block < block:
            raise InvalidInput("start_block", start_block, f">= the current block {block}")
        end = start_block + duration
        if end > MAX_BLOCK:
            raise InvalidInput("duration", duration, f"start_block + duration <= {MAX_BLOCK}")
        rate, remainder = split_amount(amount, duration)
        if rate == 0:
            raise InvalidInput(
                "amount", amount, f">= duration ({duration}) so that at least 1 unit flows per block"
            )
        with self._atomic():
            operator_id = None if operator is None else self._spend_allowance(t, s, operator, amount)
            src, dst, token_id, sender_id, receiver_id = self._payer_and_payee(
                t, s, r, block, amount, Ledger.commit, BOTH_SIDES, IN_SIDE)
            events = segment_events(start_block, end, rate, remainder)
            ledger_store.add_events(self.conn, src, OUTGOING, events, 1)
            ledger_store.add_events(self.conn, dst, INCOMING, events, 1)
            ledger_store.store_ledger(self.conn, src)
            ledger_store.store_ledger(self.conn, dst)
            sid = store.insert_stream(
                self.conn, token_id, sender_id, receiver_id, amount, start_block, end, block, rate, remainder
            )
            if operator_id is not None:
                store.insert_stream_operator(self.conn, sid, operator_id)
            return Stream(sid, checksum(t), checksum(s), checksum(r), amount, start_block, end, block,
                          start_block, rate, remainder, 0, None, token_id, sender_id, receiver_id)

    def _open_for_change(self, stream_id: Any, caller: Any, block: int, parties: str) -> tuple[Stream, Optional[int]]:
        """Load a stream that ``caller`` may change at ``block``, or refuse why not; with
        the caller's account id when it acts as the stream's operator (else None)."""
        _check_int("stream_id", stream_id, 1, MAX_ID, "a stream id in 1..2^63-1")
        c = checksum(parse_address(caller, "caller"))
        row = store.load_stream(self.conn, stream_id)
        if row is None:
            raise UnknownStream(stream_id)
        allowed = (row.sender,) if parties == "sender" else (row.sender, row.receiver)
        operator_id = None
        if c not in allowed:
            operator = store.stream_operator(self.conn, row.id)
            if operator is None or checksum(operator[0]) != c:
                who = "its sender" if parties == "sender" else "its sender or receiver"
                raise Unauthorized(
                    f"{c} may not change stream {stream_id}: only {who} or the operator that opened it may"
                )
            operator_id = operator[1]
        if row.canceled_block is not None:
            raise StreamClosed(f"stream {stream_id} was canceled at block {row.canceled_block}")
        if block >= row.end_block:
            raise StreamClosed(
                f"stream {stream_id} has fully streamed at block {row.end_block}; nothing left to change"
            )
        return row, operator_id

    def _parties(self, row: Stream, block: int, sender_sides: int) -> tuple[Ledger, Ledger]:
        """A stream's sender's and receiver's ledgers, in one statement, with the sides
        that carry the stream settled to ``block`` (and ``sender_sides`` of the sender)."""
        src, dst = ledger_store.ledgers_of(self.conn, row.token_id, (row.sender_id, row.receiver_id), block,
                                           (sender_sides | OUT_SIDE, IN_SIDE))
        assert src is not None and dst is not None  # a stream's parties always have ledgers
        self._settle(src, block, sender_sides | OUT_SIDE)
        self._settle(dst, block, IN_SIDE)
        return src, dst

    def cancel_stream(self, stream_id: int, caller: Any, block: int) -> tuple[int, int]:
        """Stop a stream at ``block`` (sender, receiver or the operator that opened it may).
        What has streamed stays with the receiver; the rest returns to the sender's
        available balance (never to an operator's allowance). Returns ``(streamed, refunded)``."""
        block = _check_block(block)
        with self._atomic():
            row, _ = self._open_for_change(stream_id, caller, block, "both")
            src, dst = self._parties(row, block, OUT_SIDE)  # the refund is a credit
            events = segment_events(row.seg_start, row.end_block, row.rate, row.remainder)
            ledger_store.add_events(self.conn, src, OUTGOING, events, -1)
            ledger_store.add_events(self.conn, dst, INCOMING, events, -1)
            streamed = row.streamed_at(block)
            refund = row.amount - streamed
            src.release(refund)
            ledger_store.store_ledger(self.conn, src)
            ledger_store.store_ledger(self.conn, dst)
            store.cancel_stream(self.conn, row.id, block)
            return streamed, refund

    def update_stream(
        self,
        stream_id: int,
        caller: Any,
        block: int,
        new_amount: Optional[int] = None,
        new_end_block: Optional[int] = None,
    ) -> Stream:
        """Change a stream's total amount and/or end block (its sender, or the operator
        that opened it), keeping its id; returns the stream as changed.

        What streamed up to ``block`` never changes; what is left (new amount minus what
        streamed) is spread from ``max(block, start_block)`` to the new end by the same
        rule. An increase is committed from the sender's available balance at ``block``;
        a decrease returns there. An operator's increase also spends its allowance from the
        sender; a decrease does not restore it (as ``transferFrom``).
        """
        block = _check_block(block)
        if new_amount is None and new_end_block is None:
            raise InvalidInput.missing("amount", "update_stream requires a new amount and/or end_block")
        with self._atomic():
            row, operator_id = self._open_for_change(stream_id, caller, block, "sender")
            streamed = row.streamed_at(block)
            amount = row.amount if new_amount is None else amounts.amount(new_amount)
            end = row.end_block if new_end_block is None else _check_block(new_end_block, "end_block")
            if amount == row.amount and end == row.end_block:
                raise InvalidInput("amount", amount, "a new amount or end_block different from the current ones")
            if amount <= streamed:
                raise InvalidInput("amount", amount, f"more than the {streamed} already streamed")
            seg_start = max(block, row.start_block)
            if end <= seg_start:
                raise InvalidInput("end_block", end, f"> {seg_start}")
            rate, remainder = split_amount(amount - streamed, end - seg_start)
            if rate == 0:
                raise InvalidInput(
                    "amount", amount, f"at least {end - seg_start} more than the {streamed} already"
                    " streamed, so that at least 1 unit flows per block"
                )
            increase = amount - row.amount
            src, dst = self._parties(row, block, BOTH_SIDES if increase > 0 else OUT_SIDE)
            if operator_id is not None and increase > 0:
                self._spend_allowance(parse_address(row.token, "token"), parse_address(row.sender, "sender"),
                                      parse_address(caller, "caller"), increase)
            if increase > 0:
                _take(Ledger.commit, src, increase, row.sender, row.token, block)
            else:
                src.release(-increase)
            old = segment_events(row.seg_start, row.end_block, row.rate, row.remainder)
            new = segment_events(seg_start, end, rate, remainder)
            for ledger, which in ((src, OUTGOING), (dst, INCOMING)):
                ledger_store.add_events(self.conn, ledger, which, old, -1)
                ledger_store.add_events(self.conn, ledger, which, new, 1)
            ledger_store.store_ledger(self.conn, src)
            ledger_store.store_ledger(self.conn, dst)
            changed = Stream(
                row.id, row.token, row.sender, row.receiver, amount, row.start_block, end, row.opened_block,
                seg_start, rate, remainder, streamed, None, row.token_id, row.sender_id, row.receiver_id,
            )
            store.update_stream(self.conn, changed)
            return changed

    def settle(self, token: Any, account: Any, block: int) -> None:
        """Bring both sides of the account's ledger to ``block``: what flowed in becomes
        available, what flowed out leaves committed, and the pending event rows that have
        happened are deleted. Never needed for a figure to be right (each call settles
        what it needs); a host may call it to compact the event rows of an account left
        alone while its streams ran (no call needs a side until it spends or a stream
        of that side changes)."""
        t, a = parse_address(token, "token"), parse_address(account, "account")
        block = _check_block(block)
        with self._atomic():
            found = ledger_store.ledger_at(self.conn, t, a, block)
            if found is not None:
                self._settle(found[0], block, BOTH_SIDES)
                ledger_store.store_ledger(self.conn, found[0])

    # --- reads (never write) ------------------------------------------------------

    def realtime_balance_of(self, token: Any, account: Any, block: int) -> Balance:
        """(balance, available, committed) at ``block``, which must not precede the
        account's last change; a later block projects today's streams forward."""
        block = _check_block(block)
        t, a = parse_address(token, "token"), parse_address(account, "account")
        found = ledger_store.ledger_at(self.conn, t, a, block)
        if found is None:
            return Balance(0, 0, 0)
        ledger = found[0]
        if block < ledger.block:
            raise InvalidInput("block", block, f">= {ledger.block}, the account's last change")
        return ledger_store.balance_at(self.conn, ledger, block)

    def last_change(self, token: Any, account: Any) -> Optional[int]:
        """The block of the account's last change for this token, if it has a ledger."""
        t, a = parse_address(token, "token"), parse_address(account, "account")
        found = ledger_store.ledger_at(self.conn, t, a, 0, NO_SIDE)
        return None if found is None else found[0].block

    def get_stream(self, stream_id: int) -> Stream:
        _check_int("stream_id", stream_id, 1, MAX_ID, "a stream id in 1..2^63-1")
        stream = store.load_stream(self.conn, stream_id)
        if stream is None:
            raise UnknownStream(stream_id)
        return stream

    def operator_of(self, stream_id: int) -> Optional[str]:
        """The operator that opened a stream from its sender's allowance, None if its
        sender opened it."""
        self.get_stream(stream_id)
        found = store.stream_operator(self.conn, stream_id)
        return None if found is None else checksum(found[0])

    def streams_of(
        self,
        account: Any,
        role: str = "all",
        active_at: Optional[int] = None,
        limit: int = 100,
        after_id: int = 0,
    ) -> list[Stream]:
        """A page of the account's streams in id order; pass the last id as ``after_id``."""
        if role not in ROLES:
            raise InvalidInput("role", role, "one of incoming, outgoing, all")
        limit = _check_int("limit", limit, 1, 1000, "an integer in 1..1000")
        after_id = _check_int("after", after_id, 0, MAX_ID, "a stream id in 0..2^63-1")
        if active_at is not None:
            _check_block(active_at, "active_at")
        account_id = store.find_account(self.conn, parse_address(account, "account"))
        if account_id is None:
            return []
        return store.list_streams(self.conn, account_id, role, after_id, limit, active_at)

    def total_supply(self, token: Any) -> int:
        """What the DApp holds of a token: deposited minus withdrawn (= Σ balances)."""
        token_id = store.find_token(self.conn, parse_address(token, "token"))
        if token_id is None:
            return 0
        return Supply(*store.load_token_totals(self.conn, token_id)).held

    def token_totals(self, token: Any) -> tuple[int, int]:
        """(deposited, withdrawn) of a token since genesis."""
        token_id = store.find_token(self.conn, parse_address(token, "token"))
        if token_id is None:
            return 0, 0
        return store.load_token_totals(self.conn, token_id)

    def tokens(self) -> list[str]:
        return [checksum(a) for a in store.token_addresses(self.conn)]

    def tokens_page(self, after: int = 0, limit: int = 100) -> list[TokenTotals]:
        """A page of the tokens, in the order they first arrived, with their totals;
        pass the last one's ``cursor`` as ``after`` for the next page."""
        limit = _check_int("limit", limit, 1, 1000, "an integer in 1..1000")
        after = _check_int("after", after, 0, MAX_ID, _CURSOR)
        return [TokenTotals(i, checksum(a), dep, wd) for i, a, dep, wd in store.tokens_after(self.conn, after, limit)]

    def holders_page(self, token: Any, after: int = 0, limit: int = 100) -> list[tuple[int, str]]:
        """A page of the accounts that hold or held ``token`` (every account with a ledger
        in it, at 0 now or not), in the order they first held it, as ``(cursor,
        account)``; pass the last cursor as ``after`` for the next page."""
        t = parse_address(token, "token")
        limit = _check_int("limit", limit, 1, 1000, "an integer in 1..1000")
        after = _check_int("after", after, 0, MAX_ID, _CURSOR)
        token_id = store.find_token(self.conn, t)
        if token_id is None:
            return []
        return [(i, checksum(a)) for i, a in ledger_store.holders_after(self.conn, token_id, after, limit)]

    def accounts_of(self, token: Any) -> list[str]:
        """Every account that ever held the token, in creation order (for audits)."""
        token_id = store.find_token(self.conn, parse_address(token, "token"))
        if token_id is None:
            return []
        return [checksum(a) for a, _ in ledger_store.ledgers_of_token(self.conn, token_id)]

    def state_hash(self) -> str:
        return store.state_hash(self.conn)
