"""Where approval requests live: the `ApprovalStore` interface and its SQLite implementation.

Every state change is one transaction: pending → approved | denied | expired, approved → used |
expired. Consuming an approval is a single conditional UPDATE, so of any number of concurrent
calls naming one approval exactly one can use it. The interface is small so that a store shared by
several gateway replicas (a database server) can stand in for the SQLite file later.

SQLite runs in one worker thread (the event loop never waits on the disk); several processes
(the gateway, the operator's CLI) share the file through SQLite's own locking, in WAL mode.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from gateway.approvals.model import OPEN_STATES, Approval, Grant, Kind, State
from gateway.errors import ApprovalStoreUnavailable, UnknownApproval

log = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA_VERSION = 1
BUSY_TIMEOUT_SECONDS = 5.0


class StoreOpenError(RuntimeError):
    """The store could not be opened at start; the message names the file."""


class Conflict(Exception):
    """A verdict the request's current state does not allow; `approval` is that state."""

    def __init__(self, approval: Approval, why: str) -> None:
        super().__init__(why)
        self.approval = approval
        self.why = why


class ApprovalStore(Protocol):
    """The operations the approval flow needs, each atomic on its own."""

    async def open(self, request: Approval, *, now: float) -> tuple[Approval, bool]:
        """Store `request` unless its requester has an open request for the same digest.

        Returns the open request and whether it is the new one.
        """

    async def get(self, approval_id: str) -> Approval | None: ...

    async def find(
        self, *, requested_by: str | None = None, action_digest: str | None = None, states: Collection[State] = ()
    ) -> list[Approval]:
        """Requests matching every given filter, newest first."""

    async def grant(self, approval_id: str, grant: Grant, *, kind: Kind, now: float) -> Approval:
        """Add an approval; the request turns approved once it has `count` of them (or one confirmation).

        Raises `Conflict` unless the request is pending, unexpired and not yet approved by this person.
        """

    async def deny(self, approval_id: str, grant: Grant, *, now: float) -> Approval:
        """Turn a pending, unexpired request denied; raises `Conflict` otherwise."""

    async def consume(self, approval_id: str, *, now: float) -> bool:
        """Turn an approved, unexpired request used; true for exactly one caller."""

    async def expire(self, *, now: float) -> list[Approval]:
        """Turn every open request past its expiry expired, and return them."""

    async def aclose(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
    id            TEXT PRIMARY KEY,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'used')),
    kind          TEXT NOT NULL CHECK (kind IN ('review', 'user_confirmation')),
    action_digest TEXT NOT NULL,
    requested_by  TEXT NOT NULL,
    cluster       TEXT NOT NULL,
    tool          TEXT NOT NULL,
    arguments     TEXT NOT NULL,
    approvers     TEXT NOT NULL,
    count         INTEGER NOT NULL,
    kinds         TEXT NOT NULL,
    created_at    REAL NOT NULL,
    expires_at    REAL NOT NULL,
    preview       TEXT NOT NULL,
    approved_by   TEXT NOT NULL,
    denied_by     TEXT,
    used_at       REAL
);
CREATE INDEX IF NOT EXISTS approvals_by_requester ON approvals (requested_by, action_digest, state);
CREATE INDEX IF NOT EXISTS approvals_open ON approvals (state, expires_at);
"""

_COLUMNS = (
    "id, state, kind, action_digest, requested_by, cluster, tool, arguments, approvers, count, kinds,"
    " created_at, expires_at, preview, approved_by, denied_by, used_at"
)


def _grant_json(grant: Grant) -> dict[str, Any]:
    return {"sub": grant.sub, "groups": list(grant.groups), "at": grant.at, "reason": grant.reason}


def _grant(data: dict[str, Any]) -> Grant:
    return Grant(sub=data["sub"], groups=tuple(data["groups"]), at=data["at"], reason=data["reason"])


def _row(approval: Approval) -> tuple[Any, ...]:
    return (
        approval.id,
        approval.state,
        approval.kind,
        approval.action_digest,
        approval.requested_by,
        approval.cluster,
        approval.tool,
        json.dumps(approval.arguments),
        json.dumps(list(approval.approvers)),
        approval.count,
        json.dumps(list(approval.kinds)),
        approval.created_at,
        approval.expires_at,
        json.dumps(approval.preview),
        json.dumps([_grant_json(grant) for grant in approval.approved_by]),
        json.dumps(_grant_json(approval.denied_by)) if approval.denied_by else None,
        approval.used_at,
    )


def _approval(row: sqlite3.Row) -> Approval:
    return Approval(
        id=row["id"],
        state=cast(State, row["state"]),
        kind=cast(Kind, row["kind"]),
        action_digest=row["action_digest"],
        requested_by=row["requested_by"],
        cluster=row["cluster"],
        tool=row["tool"],
        arguments=json.loads(row["arguments"]),
        approvers=tuple(json.loads(row["approvers"])),
        count=row["count"],
        kinds=tuple(json.loads(row["kinds"])),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        preview=json.loads(row["preview"]),
        approved_by=tuple(_grant(data) for data in json.loads(row["approved_by"])),
        denied_by=_grant(json.loads(row["denied_by"])) if row["denied_by"] else None,
        used_at=row["used_at"],
    )


class SqliteApprovalStore:
    """`ApprovalStore` in one SQLite file; opened at start, so a bad path fails early."""

    def __init__(self, *, path: Path) -> None:
        self.path = path
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="approvals")
        self._db: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Created owner-only before SQLite opens it: requests hold arguments and previews.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            self._worker.submit(self._connect).result()
        except (OSError, sqlite3.Error) as exc:
            self._worker.shutdown()
            raise StoreOpenError(f"cannot open the approval store {path}: {exc}") from None

    def _connect(self) -> None:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        if db.execute("PRAGMA user_version").fetchone()[0] == 0:
            db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")
        self._db = db

    @staticmethod
    def _transaction(db: sqlite3.Connection, work: Callable[[], T]) -> T:
        """Run `work` holding SQLite's write lock from the start, so a read-then-write is atomic."""
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work()
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            assert self._db is not None
            return work(self._db)

        try:
            return await asyncio.get_running_loop().run_in_executor(self._worker, call)
        except sqlite3.Error as exc:
            log.error("approval store %s failed: %s", self.path, exc)
            raise ApprovalStoreUnavailable() from None

    @staticmethod
    def _select(db: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> list[Approval]:
        rows = db.execute(f"SELECT {_COLUMNS} FROM approvals WHERE {where} ORDER BY created_at DESC", params)
        return [_approval(row) for row in rows]

    def _one(self, db: sqlite3.Connection, approval_id: str) -> Approval:
        found = self._select(db, "id = ?", (approval_id,))
        if not found:
            raise UnknownApproval(approval_id)
        return found[0]

    async def open(self, request: Approval, *, now: float) -> tuple[Approval, bool]:
        states = ", ".join("?" for _ in OPEN_STATES)

        def work(db: sqlite3.Connection) -> tuple[Approval, bool]:
            open_ = self._select(
                db,
                f"requested_by = ? AND action_digest = ? AND state IN ({states}) AND expires_at > ?",
                (request.requested_by, request.action_digest, *OPEN_STATES, now),
            )
            if open_:
                return open_[0], False
            placeholders = ", ".join("?" for _ in _COLUMNS.split(","))
            db.execute(f"INSERT INTO approvals ({_COLUMNS}) VALUES ({placeholders})", _row(request))
            return request, True

        return await self._run(lambda db: self._transaction(db, lambda: work(db)))

    async def get(self, approval_id: str) -> Approval | None:
        found = await self._run(lambda db: self._select(db, "id = ?", (approval_id,)))
        return found[0] if found else None

    async def find(
        self, *, requested_by: str | None = None, action_digest: str | None = None, states: Collection[State] = ()
    ) -> list[Approval]:
        clauses, params = ["1 = 1"], []
        if requested_by is not None:
            clauses.append("requested_by = ?")
            params.append(requested_by)
        if action_digest is not None:
            clauses.append("action_digest = ?")
            params.append(action_digest)
        if states:
            clauses.append(f"state IN ({', '.join('?' for _ in states)})")
            params.extend(states)
        return await self._run(lambda db: self._select(db, " AND ".join(clauses), tuple(params)))

    def _pending(self, db: sqlite3.Connection, approval_id: str, now: float) -> Approval:
        current = self._one(db, approval_id)
        if current.state != "pending":
            raise Conflict(current, f"it is {current.state}")
        if current.expires_at <= now:
            raise Conflict(current, "it has expired")
        return current

    async def grant(self, approval_id: str, grant: Grant, *, kind: Kind, now: float) -> Approval:
        def work(db: sqlite3.Connection) -> Approval:
            current = self._pending(db, approval_id, now)
            if any(given.sub == grant.sub for given in current.approved_by):
                raise Conflict(current, f"{grant.sub} has already approved it")
            approved_by = (*current.approved_by, grant)
            done = kind == "user_confirmation" or len(approved_by) >= current.count
            state: State = "approved" if done else "pending"
            db.execute(
                "UPDATE approvals SET state = ?, kind = ?, approved_by = ? WHERE id = ? AND state = 'pending'",
                (state, kind, json.dumps([_grant_json(given) for given in approved_by]), approval_id),
            )
            return self._one(db, approval_id)

        return await self._run(lambda db: self._transaction(db, lambda: work(db)))

    async def deny(self, approval_id: str, grant: Grant, *, now: float) -> Approval:
        def work(db: sqlite3.Connection) -> Approval:
            self._pending(db, approval_id, now)
            db.execute(
                "UPDATE approvals SET state = 'denied', denied_by = ? WHERE id = ? AND state = 'pending'",
                (json.dumps(_grant_json(grant)), approval_id),
            )
            return self._one(db, approval_id)

        return await self._run(lambda db: self._transaction(db, lambda: work(db)))

    async def consume(self, approval_id: str, *, now: float) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "UPDATE approvals SET state = 'used', used_at = ?"
                " WHERE id = ? AND state = 'approved' AND expires_at > ?",
                (now, approval_id, now),
            )
            return cursor.rowcount == 1

        return await self._run(work)

    async def expire(self, *, now: float) -> list[Approval]:
        states = ", ".join("?" for _ in OPEN_STATES)

        def work(db: sqlite3.Connection) -> list[Approval]:
            rows = db.execute(
                f"UPDATE approvals SET state = 'expired' WHERE state IN ({states}) AND expires_at <= ?"
                f" RETURNING {_COLUMNS}",
                (*OPEN_STATES, now),
            ).fetchall()
            return [_approval(row) for row in rows]

        return await self._run(work)

    async def aclose(self) -> None:
        def close() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await asyncio.get_running_loop().run_in_executor(self._worker, close)
        self._worker.shutdown(wait=True)
