"""Area locks that make dedupe race-free.

The race to prevent: two workers each handle a sighting of the same *new* camera at the same
moment. Each searches for nearby cameras, finds none, and creates one, which gives two cameras
for one. Row locks cannot stop it, because the row that would conflict does not exist yet.

**PostgreSQL.** Every write that decides camera membership (the dedupe task, split, merge)
first takes transaction-scoped advisory locks on the grid cells around the points it touches
(`dedupe.lock_keys`). Two sightings that could end up in one camera always share a cell (see
`mapapp/dedupe/__init__.py`, "Locking"), so the second worker waits until the first commits,
then sees the first worker's camera and joins it. Deadlock is impossible, because each
transaction takes all its keys in one call, in ascending order, before it locks any row.
Recluster takes one global key exclusively; every other writer takes that key *shared* first,
so a recluster waits for in-flight tasks and new tasks wait for the recluster.

**SQLite.** SQLite has no advisory locks and ignores SELECT ... FOR UPDATE. It is safe for a
simpler reason: settings open every transaction with BEGIN IMMEDIATE, which takes the database's
single write lock at the start of the transaction, not at its first write. So the whole
read-decide-write of one task runs while no other process can write, and the second worker
reads the first worker's committed camera. A worker that waits longer than the 30 s busy
timeout gets "database is locked", an OperationalError, and the task retries with back-off.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from .. import dedupe
from .roundtrips import Batch

# Distinct from every cell key, whose namespace bits are 0x3C (see dedupe.spatial).
GLOBAL_KEY = 0x3B << 54


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _require_transaction() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("area locks are transaction-scoped: call this inside transaction.atomic()")


def lock_area(points: Iterable[tuple[float, float]], *, reach_m: float, batch: Batch | None = None) -> list[int]:
    """Lock, until the transaction ends, the cells within `reach_m` of every (lat, lon) point.

    Call it once per transaction, with every point the transaction will decide about: keys
    taken in two calls could be taken out of order, and that could deadlock. With `batch`, the
    locks are queued at the end of it (the caller's reads queued after them then see the locked
    state) and the caller runs it; without, they are taken now, in one round trip.
    """
    _require_transaction()
    keys = sorted({key for lat, lon in points for key in dedupe.lock_keys(lat, lon, reach_m)})
    if _postgres():
        target = batch if batch is not None else Batch()
        # The global key first, then the cells in ascending order. The cells go in one statement:
        # the lock calls are evaluated as rows leave the sorted subquery, so in key order (a plain
        # `SELECT lock(k) FROM unnest(...)` would leave the order to the planner). Were the order
        # ever broken, PostgreSQL would detect the deadlock and the task would retry.
        target.add("SELECT pg_advisory_xact_lock_shared(%s)", [GLOBAL_KEY])
        target.add(
            "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT unnest(%s::bigint[]) AS k ORDER BY k) AS cells",
            [keys],
        )
        if batch is None:
            target.run()
    return keys


def lock_everything() -> None:
    """Exclusive lock for a recluster: waits for in-flight dedupe work, and holds new work back."""
    _require_transaction()
    if _postgres():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [GLOBAL_KEY])
