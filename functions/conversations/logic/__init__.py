"""Conversations' public logic functions: what other domains may call, in process."""

from conversations.logic.service import forget_agent

__all__ = ["forget_agent"]
