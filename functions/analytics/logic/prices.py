"""Model prices are configuration, not fetched: a table of prices per model (editable data
like the billing plans: seeded into the table once, an operator's later edits are kept, read
with a 60 s per-environment cache). An answer's cost is counted when its MessageAnswered
event is: tokens in * the input price + tokens out * the output price, in millionths of a
dollar. An edited price applies to answers counted from then on; days already counted keep
theirs. A model the table does not list counts as an unpriced message (cost 0).

The seed: on-demand list prices of Amazon Bedrock in us-east-1 as of 2025-11-15 (the same
date and source as bench/prices.toml), not re-read from this machine (no network here).
"extractive" is the offline default: no model runs, so no token cost; neither does one for
an answer that abstained before generating (model "none").
"""

from __future__ import annotations

import re

from agenthub.cache import TTLCache
from agenthub.environment import ttl_cache
from analytics.dal import repository
from analytics.models import ModelPrice

PRICE_CACHE_SECONDS = 60
NO_MODEL = "none"  # what MessageAnswered names when no model wrote the answer
DEFAULT_PRICES = (
    ModelPrice(model="extractive", input_micros_per_1k=0, output_micros_per_1k=0),
    ModelPrice(model="amazon.nova-micro-v1:0", input_micros_per_1k=35, output_micros_per_1k=140),
    ModelPrice(model="amazon.nova-lite-v1:0", input_micros_per_1k=60, output_micros_per_1k=240),
    ModelPrice(model="amazon.nova-pro-v1:0", input_micros_per_1k=800, output_micros_per_1k=3200),
    ModelPrice(
        model="anthropic.claude-3-5-haiku-20241022-v1:0",
        input_micros_per_1k=800,
        output_micros_per_1k=4000,
    ),
    ModelPrice(
        model="anthropic.claude-sonnet-4-20250514-v1:0",
        input_micros_per_1k=3000,
        output_micros_per_1k=15000,
    ),
)
# A cross-region inference profile ("us.anthropic.claude-...") is priced as its model.
_PROFILE = re.compile(r"^(?:us|eu|apac|us-gov|global)\.")

_prices: TTLCache[dict[str, ModelPrice]] = ttl_cache(PRICE_CACHE_SECONDS, max_entries=1)


def all_prices() -> dict[str, ModelPrice]:
    """Every configured price by model (seeding the table the first time it has none)."""
    found = _prices.get("prices")
    if found is None:
        stored = repository.list_prices()
        if not stored:
            for price in DEFAULT_PRICES:
                repository.seed_price(price)
            stored = repository.list_prices()
        found = {price.model: price for price in stored}
        _prices.set("prices", found)
    return found


def cost_micros(model: str | None, tokens_in: int, tokens_out: int) -> int | None:
    """The answer's cost in millionths of a dollar (rounded); None when the model has no
    configured price."""
    if model in (None, "", NO_MODEL):
        return 0  # nothing was generated
    prices = all_prices()
    price = prices.get(model or "") or prices.get(_PROFILE.sub("", model or ""))
    if price is None:
        return None
    spent = tokens_in * price.input_micros_per_1k + tokens_out * price.output_micros_per_1k
    return (spent + 500) // 1000
