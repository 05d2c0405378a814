"""Conversations' public logic functions: what other domains may call, in process.

- ``visitor_questions(tenant_id, agent_id, started_from, started_to)``: the visitor questions
  of an agent's conversations started in a time range, each with whether its answer
  abstained (the analytics rollup groups them into top and unanswered questions).
"""

from conversations.logic.service import visitor_questions

__all__ = ["visitor_questions"]
