"""GitHub: REST client, sticky PR comment, drift issue, publishing for the Action."""
