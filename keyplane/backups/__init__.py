"""Backups the operator makes and restores with ``keyplane backup`` / ``keyplane restore``:
the SQLite database, copied while Keyplane runs, packed with the server secret sealed under
a passphrase (or left out); on PostgreSQL the sealed secret alone, beside a ``pg_dump``."""
