"""Who is calling, in terms any package may use: the principal, roles and scopes, the client's
address, the credential headers. It imports nothing above ``kit``: the credential check is
``keyplane.credentials.authentication``, the framework's dependencies ``keyplane.web``."""
