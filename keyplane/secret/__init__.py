"""The server secret: checked against the database at every start, and rotated.

The secret keys every credential's digest and seals every account's signing key, so a
process started with another one would refuse every key and fail every signature. The
``installation`` row holds a verifier of the secret (``rules.verifier``); every start
compares it with the configured secrets and acts on what ``rules.decide`` says: go on, write
the verifier, re-seal the signing keys under a new secret, or refuse to start in one line.
"""
