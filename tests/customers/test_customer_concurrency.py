"""Concurrent first requests for one external id create one customer, and every answer names it."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from customers.models import Customer

THREADS = 8


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_one_customer_and_answer_its_id(
    partner, partner_api_key, customer_tasks
):
    barrier = threading.Barrier(THREADS)
    answers: list[tuple[int, str]] = []
    failures: list[BaseException] = []

    def create() -> None:
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=partner_api_key)
        try:
            barrier.wait(timeout=10)
            response = client.post("/api/v1/customers", {"external_id": "raced"}, format="json")
            answers.append((response.status_code, response.json()["id"]))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread's assertion
            failures.append(exc)
        finally:
            connection.close()  # each thread opened its own connection

    threads = [threading.Thread(target=create) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert Customer.objects.filter(partner=partner, external_id="raced").count() == 1
    customer = Customer.objects.get(partner=partner, external_id="raced")
    assert {customer_id for _, customer_id in answers} == {str(customer.id)}
    assert sorted(status for status, _ in answers) == [200] * (THREADS - 1) + [201]
    assert customer_tasks == [("customers.provision", str(customer.id))]
