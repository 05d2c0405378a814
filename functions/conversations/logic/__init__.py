"""Conversations' public logic functions: what other domains may call, in process.

- ``forget_agent(...)``: removes a deleted agent's conversations (the agent clean-up).
- ``question_text(tenant_id, conversation_id, question_id)``: a visitor question's text (the
  analytics consumer files it under the agent's day for the nightly rollup).
"""

from conversations.logic.service import forget_agent, question_text

__all__ = ["forget_agent", "question_text"]
