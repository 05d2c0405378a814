"""Agents' public logic functions: what other domains may call, in process."""

from agents.logic.service import get_agent

__all__ = ["get_agent"]
