"""API keys: named, scoped, IP-restricted, version-pinned, shown once, stored hashed."""
