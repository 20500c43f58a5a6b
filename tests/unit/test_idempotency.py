"""Idempotency-Key: the same request twice gets one change; the key reused for another request is refused."""

import pytest

from shared.idempotency import IdempotencyConflict, Idempotent
from tests.support.fake_uow import FakeUnitOfWork


def test_no_key_means_no_deduplication():
    assert Idempotent.of(None, "clerk-zhang", {"a": 1}) is None
    assert Idempotent.of("", "clerk-zhang", {"a": 1}) is None


def test_the_digest_depends_on_the_request_not_on_key_order():
    one = Idempotent.of("key-0001", "clerk-zhang", "assign", {"a": 1, "b": 2})
    same = Idempotent.of("key-0001", "clerk-zhang", "assign", {"b": 2, "a": 1})
    other = Idempotent.of("key-0001", "clerk-zhang", "assign", {"a": 1, "b": 3})
    assert one == same and one.request_sha256 != other.request_sha256


async def test_a_retry_recalls_the_first_result_and_a_different_request_is_a_conflict():
    uow = FakeUnitOfWork(store=None)
    first = Idempotent.of("key-0001", "clerk-zhang", {"a": 1})
    async with uow.begin() as tx:
        assert await tx.recall(first) is None
        await tx.remember(first, {"made": 1})
    async with uow.begin() as tx:
        assert await tx.recall(first) == {"made": 1}
        with pytest.raises(IdempotencyConflict):
            await tx.recall(Idempotent.of("key-0001", "clerk-zhang", {"a": 2}))
        # Another caller's key is another key.
        assert await tx.recall(Idempotent.of("key-0001", "clerk-liu", {"a": 2})) is None


async def test_a_failed_transaction_remembers_nothing():
    uow = FakeUnitOfWork(store=None)
    request = Idempotent.of("key-0001", "clerk-zhang", {"a": 1})
    with pytest.raises(RuntimeError):
        async with uow.begin() as tx:
            await tx.remember(request, {"made": 1})
            raise RuntimeError("crash before commit")
    async with uow.begin() as tx:
        assert await tx.recall(request) is None
