"""Stock levels of an inventory, kept in SQLite.

A `Sku` is a validated value object; `Inventory` stores quantities per SKU
and refuses to let stock go below zero.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

_SKU_RE = re.compile(r"[A-Z]{3}-[0-9]{4}")


class InventoryError(Exception):
    """A change the inventory refuses, such as removing more than is in stock."""


@dataclass(frozen=True)
class Sku:
    """A stock-keeping unit code such as ``ABC-0042``."""

    code: str

    def __post_init__(self) -> None:
        if not _SKU_RE.fullmatch(self.code):
            raise ValueError(f"invalid SKU {self.code!r} (expected like ABC-0042)")


class Inventory:
    """Quantities per SKU in a SQLite database (``":memory:"`` for tests)."""

    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(str(path))
        with self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS stock("
                "sku TEXT PRIMARY KEY, quantity INTEGER NOT NULL CHECK (quantity >= 0))"
            )

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def quantity(self, sku: Sku) -> int:
        """Return the quantity in stock of `sku` (0 when it was never stocked)."""
        row = self._db.execute("SELECT quantity FROM stock WHERE sku = ?", (sku.code,)).fetchone()
        return row[0] if row else 0

    def add(self, sku: Sku, count: int) -> int:
        """Add `count` (> 0) items of `sku`; return the new quantity.

        Raises ValueError when count is not positive.
        """
        if count <= 0:
            raise ValueError(f"count must be positive, not {count}")
        with self._db:
            self._db.execute(
                "INSERT INTO stock(sku, quantity) VALUES(?, ?)"
                " ON CONFLICT(sku) DO UPDATE SET quantity = quantity + excluded.quantity",
                (sku.code, count),
            )
        return self.quantity(sku)

    def remove(self, sku: Sku, count: int) -> int:
        """Remove `count` (> 0) items of `sku`; return the new quantity.

        Raises ValueError when count is not positive and InventoryError when
        fewer than `count` items are in stock (nothing changes then).
        """
        if count <= 0:
            raise ValueError(f"count must be positive, not {count}")
        have = self.quantity(sku)
        if have < count:
            raise InventoryError(f"cannot remove {count} of {sku.code}: only {have} in stock")
        with self._db:
            self._db.execute("UPDATE stock SET quantity = quantity - ? WHERE sku = ?", (count, sku.code))
        return have - count

    def report(self) -> list[tuple[str, int]]:
        """Return (sku, quantity) for every stocked SKU, sorted by SKU."""
        return list(self._db.execute("SELECT sku, quantity FROM stock ORDER BY sku"))
