"""Conversations: visitor sessions, messages, grounded answers with citations."""
