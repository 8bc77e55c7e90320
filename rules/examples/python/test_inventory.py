"""Tests of inventory.py: value checks, stock arithmetic and its errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inventory import Inventory, InventoryError, Sku


@pytest.fixture
def inv() -> Iterator[Inventory]:
    store = Inventory(":memory:")
    yield store
    store.close()


@pytest.mark.parametrize("code", ["abc-0001", "ABC-1", "ABCD-0001", "", "ABC-00011"])
def test_sku_rejects_bad_codes(code: str) -> None:
    with pytest.raises(ValueError, match="invalid SKU"):
        Sku(code)


def test_add_and_remove(inv: Inventory) -> None:
    sku = Sku("ABC-0042")
    assert inv.quantity(sku) == 0
    assert inv.add(sku, 5) == 5
    assert inv.add(sku, 2) == 7
    assert inv.remove(sku, 7) == 0


def test_remove_more_than_stocked_changes_nothing(inv: Inventory) -> None:
    sku = Sku("ABC-0042")
    inv.add(sku, 1)
    with pytest.raises(InventoryError, match="only 1 in stock"):
        inv.remove(sku, 2)
    assert inv.quantity(sku) == 1


@pytest.mark.parametrize("count", [0, -3])
def test_counts_must_be_positive(inv: Inventory, count: int) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        inv.add(Sku("XYZ-0001"), count)


def test_report_is_sorted(inv: Inventory) -> None:
    inv.add(Sku("ZZZ-0001"), 1)
    inv.add(Sku("AAA-0001"), 2)
    assert inv.report() == [("AAA-0001", 2), ("ZZZ-0001", 1)]
