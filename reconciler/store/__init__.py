"""The SQLite route store shared by the `local` backend and `routes serve`."""
