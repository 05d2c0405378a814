"""What every domain's models share: the base of API input models, the shape of our ids."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

# Ids of ours (hex, prefixes, underscores): anything else cannot exist.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class StrictInput(BaseModel):
    """API input: unknown fields are an error, strings are trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
