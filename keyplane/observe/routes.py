"""Which route template a request path belongs to, for its access line and its metrics.

The access line names a request's route by its template (``/v1/licenses/{license_id}``),
never by its path, which may hold a license key or a fingerprint. The table is built from
the templates the application declares and matched segment by segment (a literal before a
parameter, as the routes are declared), so the lean handlers and the framework name a route
alike, and neither the router's internals nor an OpenAPI document are needed.
"""

from __future__ import annotations

from collections.abc import Iterable

MOST_SEGMENTS = 16
"""Segments of an unmatched path shown (redacted) in an access line."""
_FIXED_PATHS = 4096
ACCOUNT = "{account}"


class _Node:
    __slots__ = ("literal", "parameter", "template")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.parameter: _Node | None = None
        self.template: str | None = None


class RouteTable:
    """Route templates, matched against request paths."""

    def __init__(self, templates: Iterable[str]) -> None:
        self._root = _Node()
        self._fixed: dict[str, str] = {}
        """Paths of templates whose only parameter is the account, by path, found once: the
        commonest requests (verification, validate-key) take one dictionary read. Their
        number is bounded by the accounts in use; other paths hold ids, and are matched."""
        self._memoized: set[str] = set()
        words: set[str] = set()
        for template in templates:
            node = self._root
            for part in template.split("/")[1:]:
                if part.startswith("{") and part.endswith("}"):
                    node.parameter = node.parameter or _Node()
                    node = node.parameter
                else:
                    words.add(part)
                    node = node.literal.setdefault(part, _Node())
            node.template = template
            if template.replace(ACCOUNT, "").count("{") == 0:
                self._memoized.add(template)
        self.words = frozenset(words)

    def template(self, path: str) -> str | None:
        """The template of the route that declares ``path``, or None."""
        fixed = self._fixed.get(path)
        if fixed is not None:
            return fixed
        parts = path.split("/")
        found = _greedy(self._root, parts) or _match(self._root, parts, 1)
        if found in self._memoized and len(self._fixed) < _FIXED_PATHS:
            self._fixed[path] = found
        return found

    def redacted(self, path: str) -> str:
        """An unmatched ``path`` as an access line shows it: each segment that is not a
        word of some route's template is ``*`` (it may be a license key, anything)."""
        parts = path.split("/")
        shown = [part if part in self.words else "*" for part in parts[1 : MOST_SEGMENTS + 1]]
        return "/" + "/".join(shown) + ("/…" if len(parts) > MOST_SEGMENTS + 1 else "")


def _greedy(node: _Node | None, parts: list[str]) -> str | None:
    """The template reached by taking, at each segment, its literal if there is one, else
    the parameter: the answer for every path of Keyplane's routes, found without recursion."""
    for part in parts[1:]:
        if node is None:
            return None
        node = node.literal.get(part) or (node.parameter if part else None)
    return None if node is None else node.template


def _match(node: _Node, parts: list[str], at: int) -> str | None:
    """The template of ``parts[at:]`` from ``node``, trying a parameter where a literal
    leads nowhere."""
    if at == len(parts):
        return node.template
    child = node.literal.get(parts[at])
    if child is not None:
        found = _match(child, parts, at + 1)
        if found is not None:
            return found
    if node.parameter is not None and parts[at]:
        return _match(node.parameter, parts, at + 1)
    return None
