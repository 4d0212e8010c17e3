"""The Celery app's wiring: JSON only, late acks, stable routes, and a real worker round trip."""

import threading

from builder_platform.celery import app as celery_app

delivered = threading.Event()
received_payloads: list[dict] = []


@celery_app.task(name="tests.record_delivery")
def record_delivery(payload: dict) -> None:
    received_payloads.append(payload)
    delivered.set()


def _queue_of(task_name: str) -> str:
    route = celery_app.amqp.router.route({}, task_name)
    return route["queue"].name


def test_each_kind_of_work_has_its_own_queue():
    assert _queue_of("customers.provision") == "provisioning"
    assert _queue_of("orders.submit") == "submission"
    assert _queue_of("orders.cancel") == "cancel"
    assert _queue_of("orders.reconcile_customer") == "reconciliation"
    assert _queue_of("fees.refresh_escrow_config") == "default"


def test_tasks_are_acknowledged_late_and_spoken_in_json_only():
    conf = celery_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json"


def test_a_real_worker_consumes_a_task_sent_through_the_broker(celery_worker):
    delivered.clear()
    received_payloads.clear()
    record_delivery.delay({"price": "0.55", "size": "100"})
    assert delivered.wait(timeout=30), "the worker never ran the task"
    assert received_payloads == [{"price": "0.55", "size": "100"}]
