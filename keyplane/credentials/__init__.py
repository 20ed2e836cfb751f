"""The credential engine: issue, find and check API keys, tokens and access tokens."""
