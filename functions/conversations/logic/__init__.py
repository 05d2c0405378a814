"""Conversations' public logic functions: what other domains may call, in process.

- ``forget_agent(...)``: removes a deleted agent's conversations (the agent clean-up).
- ``visitor_questions(tenant_id, agent_id, started_from, started_to)``: the visitor questions
  of an agent's conversations started in a time range, each with whether its answer
  abstained (the analytics rollup groups them into top and unanswered questions).
"""

from conversations.logic.service import forget_agent, visitor_questions

__all__ = ["forget_agent", "visitor_questions"]
