"""Agents' public logic functions: what other domains may call, in process."""

from agents.logic.service import agent_still_exists, get_agent

__all__ = ["agent_still_exists", "get_agent"]
