"""GitHub: REST client, sticky PR comment, drift issue, Action CLI."""
