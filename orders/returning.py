"""Conditional UPDATEs of orders that answer with the rows they wrote (UPDATE ... RETURNING).

PostgreSQL and SQLite (3.35+) both return the updated rows, so the change and the read of what it wrote
are one statement: the event rendered from the row is the order as the UPDATE left it, with no second
query and no window for another writer between the two.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, router, transaction
from django.db.models import QuerySet
from django.db.models.sql import UpdateQuery

from orders.models import Order

ORDER_FIELDS = tuple(Order._meta.concrete_fields)


def _columns(connection: Any) -> str:
    table = connection.ops.quote_name(Order._meta.db_table)
    return ", ".join(f"{table}.{connection.ops.quote_name(field.column)}" for field in ORDER_FIELDS)


def _converters(connection: Any) -> list[tuple[int, list, Any]]:
    converters = []
    for position, field in enumerate(ORDER_FIELDS):
        column = field.get_col(Order._meta.db_table)
        chain = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if chain:
            converters.append((position, chain, column))
    return converters


def orders_from_rows(rows: list[tuple], *, using: str) -> list[Order]:
    """Orders built from full rows in `ORDER_FIELDS` order, through the same converters a SELECT applies."""
    connection = connections[using]
    converters = _converters(connection)
    names = [field.attname for field in ORDER_FIELDS]
    orders = []
    for raw in rows:
        row = list(raw)
        for position, chain, column in converters:
            value = row[position]
            for converter in chain:
                value = converter(value, column, connection)
            row[position] = value
        orders.append(Order.from_db(using, names, row))
    return orders


def orders_update_returning(query: QuerySet, **values: Any) -> list[Order]:
    """`query.update(**values)`, answering with the orders as the UPDATE left them (none: no row matched)."""
    using = router.db_for_write(Order)
    update = query.query.chain(UpdateQuery)
    update.add_update_values(values)
    update.clear_select_clause()
    connection = connections[using]
    sql, params = update.get_compiler(using).as_sql()
    with transaction.mark_for_rollback_on_error(using=using), connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {_columns(connection)}", params)
        rows = cursor.fetchall()
    return orders_from_rows(rows, using=using)


def order_columns_sql(*, using: str) -> str:
    """The order table's columns, in the order `orders_from_rows` reads them."""
    return _columns(connections[using])


def order_refresh(order: Order, row: Order) -> None:
    """Copy the row an UPDATE returned onto the caller's order (same relation ids: loaded ones stay)."""
    for field in ORDER_FIELDS:
        setattr(order, field.attname, getattr(row, field.attname))
