"""AgentHub shared kernel: settings, observability, errors, table and keys, events, caching,
HTTP helpers. No domain logic lives here."""
