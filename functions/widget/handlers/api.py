"""Widget REST API: an agent's embed code. The widget itself is static files on CloudFront
(functions/widget/assets, built by widget.logic.assets) and calls the public routes of the
agents and conversations domains."""

from __future__ import annotations

import re

from pydantic import Field

from agenthub.errors import ConfigurationError
from agenthub.http import (
    ALL_ROLES,
    Caller,
    answers,
    api_handler,
    endpoint,
    json_response,
    make_resolver,
)
from agenthub.settings import ApiSettings, load_settings
from widget.logic import embed
from widget.models import EmbedCode

app = make_resolver()


ASSETS_URL = re.compile(r"^https?://[^/\s]+")


class WidgetSettings(ApiSettings):
    # The SSM parameter that holds where the loader is served (the widget's CloudFront).
    widget_assets_url_parameter: str = Field(min_length=2)


def _settings() -> WidgetSettings:
    return load_settings(WidgetSettings)


def _assets_url() -> str:
    """The CloudFront URL, from SSM through Powertools Parameters (cached 5 minutes)."""
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_parameter(_settings().widget_assets_url_parameter, max_age=300)
    if not isinstance(value, str) or not ASSETS_URL.match(value):
        raise ConfigurationError("the widget's assets URL parameter is not a URL")
    return value


@app.get("/v1/agents/<agentId>/embed", summary="An agent's embed code", tags=["widget"])
@answers(EmbedCode)
@endpoint(app, roles=ALL_ROLES)
def get_embed_code(who: Caller, agentId: str):
    code = embed.embed_code(who.tenant_id, agentId, assets_url=_assets_url)
    return json_response(app, code.model_dump(mode="json"))


handler = api_handler(app, WidgetSettings)
