"""What an operator sees of a running Keyplane: request ids and access lines (``requests``,
``logs``), metrics (``metrics``), health and readiness (``health``).

Everything here is paid for on every request, the hot ones included, so the per-request
part is plain attribute writes and one preformatted line; the rest happens at scrape time,
on a timer, or when a log record is emitted anyway.
"""
