"""The conversations domain's behaviour; no Lambda, HTTP or event types in here."""
