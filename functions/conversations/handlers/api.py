"""Conversations REST API: the widget's routes (``widget``) and the server's (``server``)."""

from __future__ import annotations

from agenthub.http import api_handler, make_resolver
from conversations.handlers import server, widget
from conversations.handlers.shared import ConversationSettings

app = make_resolver()
app.include_router(widget.router)
app.include_router(server.router)

handler = api_handler(app, ConversationSettings)
