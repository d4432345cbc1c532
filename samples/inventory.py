"""A small warehouse inventory: items, categories and a few queries over them."""
from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable


class Category(enum.Enum):
    TOOLS = "T"
    FOOD = "F"
    TOYS = "Y"


@dataclass(frozen=True)
class Item:
    name: str
    category: Category
    quantity: int
    unit_price: float

    @property
    def value(self) -> float:
        return self.quantity * self.unit_price


@dataclass
class Inventory:
    items: list[Item] = field(default_factory=list)

    def add(self, name: str, category: Category, quantity: int, unit_price: float) -> None:
        if quantity < 0:
            raise ValueError(f"negative quantity for {name}")
        self.items.append(Item(name, category, quantity, unit_price))

    def select(self, keep: Callable[[Item], bool]) -> list[Item]:
        return [item for item in self.items if keep(item)]

    def value_by_category(self) -> dict[Category, float]:
        totals: dict[Category, float] = defaultdict(float)
        for item in self.items:
            totals[item.category] += item.value
        return dict(sorted(totals.items(), key=lambda kv: kv[0].value))

    def extremes(self) -> tuple[Item, Item] | None:
        if not self.items:
            return None
        by_price = sorted(self.items, key=lambda it: it.unit_price)
        return by_price[0], by_price[-1]


def restock(inventory: Inventory, names: Iterable[str], amount: int = 10) -> int:
    """Add `amount` to every named item; returns how many were found."""
    wanted = set(names)

    def bump(item: Item) -> Item:
        return Item(item.name, item.category, item.quantity + amount, item.unit_price)

    inventory.items = [bump(it) if it.name in wanted else it for it in inventory.items]
    return sum(1 for it in inventory.items if it.name in wanted)


async def report(inventory: Inventory) -> str:
    lines = [f"{c.name}: {v:.2f}" for c, v in inventory.value_by_category().items()]
    return "\n".join(lines)


if __name__ == "__main__":
    inv = Inventory()
    inv.add("hammer", Category.TOOLS, 12, 9.5)
    inv.add("apples", Category.FOOD, 140, 0.3)
    inv.add("kite", Category.TOYS, 3, 24.0)
    print("low stock:", len(inv.select(lambda item: item.quantity < 10)))
    print("restocked:", restock(inv, ["kite"]))
    for category, total in inv.value_by_category().items():
        print(f"{category.name}: {total:.2f}")
