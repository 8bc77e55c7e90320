"""Command line of the inventory: ``cli.py [--db PATH] add|remove SKU COUNT``.

Prints the new quantity.  Exit status: 0 on success, 1 when the inventory
refuses the change, 2 on bad usage (argparse's convention).
"""

from __future__ import annotations

import argparse
import sys

from inventory import Inventory, InventoryError, Sku


def main(argv: list[str] | None = None) -> int:
    """Run the command line with `argv` (default: sys.argv[1:]); return the exit status."""
    parser = argparse.ArgumentParser(prog="inventory", description="Change stock levels.")
    parser.add_argument("--db", default="inventory.db", help="SQLite file (default: %(default)s)")
    parser.add_argument("action", choices=["add", "remove"])
    parser.add_argument("sku", help="SKU code such as ABC-0042")
    parser.add_argument("count", type=int)
    args = parser.parse_args(argv)
    try:
        sku = Sku(args.sku)
    except ValueError as err:
        parser.error(str(err))
    inv = Inventory(args.db)
    try:
        change = inv.add if args.action == "add" else inv.remove
        print(change(sku, args.count))
    except (InventoryError, ValueError) as err:
        print(f"inventory: {err}", file=sys.stderr)
        return 1
    finally:
        inv.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
