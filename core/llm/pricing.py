"""Cost estimates per model family (USD per million tokens), for the card footer and the usage log.

Estimates only: the invoice is the truth. Unknown models are priced like Sonnet.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    input: float
    output: float

    @property
    def cache_write(self) -> float:
        return self.input * 1.25

    @property
    def cache_read(self) -> float:
        return self.input * 0.1


# Most specific prefix first.
PRICES: tuple[tuple[str, Price], ...] = (
    ("claude-opus-4-5", Price(5.0, 25.0)),
    ("claude-opus", Price(15.0, 75.0)),
    ("claude-haiku-4-5", Price(1.0, 5.0)),
    ("claude-3-5-haiku", Price(0.8, 4.0)),
    ("claude-haiku", Price(1.0, 5.0)),
    ("claude-sonnet", Price(3.0, 15.0)),
)
DEFAULT_PRICE = Price(3.0, 15.0)


def price_for(model: str) -> Price:
    return next((price for prefix, price in PRICES if model.startswith(prefix)), DEFAULT_PRICE)


def cost_usd(model: str, input_tokens: int, output_tokens: int, cache_write_tokens: int = 0, cache_read_tokens: int = 0) -> float:
    price = price_for(model)
    total = (
        input_tokens * price.input
        + output_tokens * price.output
        + cache_write_tokens * price.cache_write
        + cache_read_tokens * price.cache_read
    )
    return round(total / 1_000_000, 6)
