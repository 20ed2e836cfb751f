"""The framework's side of every route: FastAPI dependencies for the request's session and
who calls, over ``auth``, ``credentials`` and ``licensing``. Every domain's endpoints import
it, so it imports no domain package."""
