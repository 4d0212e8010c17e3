"""The shared enqueue helper and the one error model."""

import pytest
from django.db import transaction
from kombu.exceptions import OperationalError
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from builder_platform import enqueue as queue
from builder_platform.failures import DomainError


class _Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, list, float | None]] = []
        self.fail = fail

    def send_task(self, name, args=None, countdown=None):
        if self.fail:
            raise OperationalError("broker down")
        self.sent.append((name, args, countdown))


@pytest.fixture
def recorder(monkeypatch):
    rec = _Recorder()
    monkeypatch.setattr(queue, "current_app", rec)
    return rec


@pytest.mark.django_db(transaction=True)
def test_enqueue_on_commit_sends_only_after_commit(recorder):
    with transaction.atomic():
        queue.enqueue_on_commit("orders.submit", "abc", countdown=3)
        assert recorder.sent == []
    assert recorder.sent == [("orders.submit", ["abc"], 3)]


@pytest.mark.django_db(transaction=True)
def test_enqueue_on_commit_sends_nothing_on_rollback(recorder):
    def queue_then_fail() -> None:
        with transaction.atomic():
            queue.enqueue_on_commit("orders.submit", "abc")
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        queue_then_fail()
    assert recorder.sent == []


@pytest.mark.django_db(transaction=True)
def test_enqueue_arguments_computed_at_send_time(recorder):
    stamps = iter(["t1"])
    with transaction.atomic():
        queue.enqueue_on_commit(
            "orders.reconcile_customer", "c", "polymarket", args_at_send=lambda: [next(stamps)]
        )
    assert recorder.sent == [("orders.reconcile_customer", ["c", "polymarket", "t1"], None)]


@pytest.mark.django_db(transaction=True)
def test_enqueue_many_sends_one_message_each(recorder):
    with transaction.atomic():
        queue.enqueue_many_on_commit("customers.provision", ["a", "b"])
        queue.enqueue_many_on_commit("customers.provision", [])
    assert [args for _, args, _ in recorder.sent] == [["a"], ["b"]]


def test_broker_outage_is_logged_not_raised(monkeypatch, caplog):
    monkeypatch.setattr(queue, "current_app", _Recorder(fail=True))
    assert queue.enqueue_now("orders.submit", "abc") is False
    assert "left for the sweep" in caplog.text


def test_domain_error_answers_the_one_error_shape():
    class Refusing(APIView):
        authentication_classes: list = []
        permission_classes: list = []

        def get(self, request):
            raise DomainError("The market is closed.", code="market_closed", status=409, field="market_id")

    response = Refusing.as_view()(APIRequestFactory().get("/api/v1/x"))
    assert response.status_code == 409
    assert response.data == {
        "error": "The market is closed.",
        "code": "market_closed",
        "fields": {"market_id": "The market is closed."},
    }
