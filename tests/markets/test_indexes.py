"""The tables an order writes carry no index that another makes redundant: each index is one more write per row."""

from itertools import takewhile

from django.db import models
from django.test.utils import isolate_apps

from ledger.models import JournalEntry, Posting
from markets.models import BookLevel, Candle, Order, Trade

WRITTEN_BY_ORDERS = [Order, Trade, Posting, JournalEntry, BookLevel, Candle]


def _columns(model: type[models.Model], names) -> tuple[str, ...]:
    return tuple(model._meta.get_field(name.lstrip("-")).column for name in names)


def indexes(model: type[models.Model]) -> list[tuple[str, tuple[str, ...], bool, bool]]:
    """(name, columns, unique, partial) of each index Django gives the model's table, the primary key's aside.
    An index on expressions lists the plain fields it leads with, as far as they go."""
    found = []
    for field in model._meta.local_concrete_fields:
        if not field.primary_key and (field.unique or field.db_index):
            found.append((field.name, (field.column,), field.unique, False))
    for index in model._meta.indexes:
        names = index.fields or [getattr(expression, "name", None) for expression in index.expressions]
        leading = list(takewhile(bool, names))
        found.append((index.name, _columns(model, leading), False, index.condition is not None))
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
            found.append((constraint.name, _columns(model, constraint.fields), True, constraint.condition is not None))
    return found


def redundant(model: type[models.Model]) -> list[tuple[str, str]]:
    """(index, the index that leads with the same columns) for each plain index another full index makes
    redundant."""
    found = indexes(model)
    return [
        (name, other)
        for name, columns, unique, partial in found
        if not unique and not partial
        for other, other_columns, _, other_partial in found
        if other != name and not other_partial and other_columns[: len(columns)] == columns
    ]


def test_no_table_an_order_writes_has_a_redundant_index():
    assert {model.__name__: redundant(model) for model in WRITTEN_BY_ORDERS} == {
        model.__name__: [] for model in WRITTEN_BY_ORDERS
    }


@isolate_apps("markets")
def test_the_check_finds_an_index_another_leads_with():
    class Fill(models.Model):
        market = models.IntegerField(db_index=True)
        taker = models.IntegerField(db_index=True)

        class Meta:
            app_label = "markets"
            indexes = [
                models.Index(fields=["market", "-id"], name="fill_market_recent"),
                models.Index(fields=["taker"], condition=models.Q(id__gt=0), name="fill_taker_partial"),
            ]

    # market's own index is covered; taker's is not (a partial index covers only its rows).
    assert redundant(Fill) == [("market", "fill_market_recent")]
