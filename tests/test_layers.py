"""The layers hold: HTTP (FastAPI, Starlette) stays at the edge, and keyplane's packages import
one another without a cycle.

Both read the source with ``ast``: every import that can run counts, at module level or inside
a function, all but those under ``if TYPE_CHECKING:`` (annotations only, never run).

The packages' order, lowest first (a subpackage or a top-level module is one node): each
imports only packages named before it, and ``test_the_documented_order_holds`` keeps this list
true. A new module goes in the lowest package whose imports it needs; a package that needs
one named after it is in the wrong place, or the rule it needs is (move the shared rule down,
as ``licensing`` holds what ``licenses`` and ``machines`` share):

1. Foundations: ``errors``, ``outages``, ``envelopes``, ``docs``, ``services`` (the registry:
   it names the services' types for annotations alone), ``kit``, ``cache``, ``models``,
   ``examples``, ``auth`` (principal, scopes, network, headers; nothing above ``kit``).
2. Storage and settings: ``invalidations``, ``db``, ``log_reader``, ``bus``, ``migrate``,
   ``startup``, ``config``, ``serving``.
3. ``credentials``: the engine, the credential check (``authenticate``), API versions.
4. ``licensing``: what the licensing domains share (access, key strings, status, heartbeat,
   machine limits, vocabularies, the License and license-token schemes).
5. Operating: ``observe``, then ``ratelimit``.
6. ``web``: the framework's dependencies every route uses (the request's session, who calls);
   it imports no domain package, since every domain's endpoints import it.
7. ``events``: the log every write records into.
8. The domains, each after those it calls or renders (a cross-domain renderer lives in the
   rendered resource's schemas): ``accounts``, ``users``, ``products``, ``oauth``,
   ``secret``, ``backups`` (a database packed with its secret), ``policies``, ``keys``;
   the answering machinery the lean handlers share (``error_handlers``, ``negotiation``,
   ``signing``, ``hot``); ``components`` (a machine's hardware: what validation matches a
   scope against); ``licenses``; ``machines`` and
   ``tokens`` (which renders ``/me`` and serves a product's tokens); ``entitlements``,
   ``groups``, ``license_tokens``, ``processes``, ``licensees``; ``checkouts`` (license
   files, which embed the others).
9. What joins several domains: ``usage`` (writes the credentials' uses and the licenses'
   validations), ``api_keys`` (hands its uses to it), ``webhooks`` (renders every
   resource), ``contract``, ``console`` (the web pages, over every domain's services).
10. The application: ``assembly`` (builds the registry's services), ``app``, ``cli``,
    ``__main__``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "keyplane"
FRAMEWORKS = ("fastapi", "starlette")

EDGE = {
    "app.py": "builds the application: routers, middleware, handlers",
    "contract.py": "post-processes the OpenAPI document of the routes",
    "docs.py": "serves /docs and ReDoc",
    "error_handlers.py": "renders every error as the response of its API's dialect",
    "negotiation.py": "ASGI middleware: the licensing API's content negotiation",
    "signing.py": "ASGI middleware: signs the licensing API's answers",
    "hot.py": "the lean ASGI handlers of the hottest routes",
    "web/dependencies.py": "the framework's dependencies: the request's session, who calls",
    "kit/jsonapi.py": "renders JSON:API documents as responses",
    "kit/bodies.py": "ASGI middleware: request bodies read once, within a limit",
    "kit/nul.py": "ASGI middleware: refuses NUL characters in requests",
    "licenses/lean.py": "the lean handler of validate-key (an adapter over the rules)",
    "api_keys/lean.py": "the lean handlers of the API-key routes (adapters over the rules)",
    "observe/exchange.py": "ASGI middleware: the access log",
    "observe/observer.py": "ASGI middleware: metrics of each request",
    "console/pages.py": "the console's pages: the signed-in caller, forms and CSRF, refusal pages",
}
"""Modules besides every ``endpoints.py`` (and ``*_endpoints.py``) that may import the
framework, each with why: they are the edge, where HTTP is parsed and answered."""


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if not relative.startswith("migrations/"):
            yield relative, ast.parse(path.read_text(), relative)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports in ``node`` that can run: at any depth (a function's too), but not those
    under ``if TYPE_CHECKING:`` (its ``else`` runs)."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    elif isinstance(node, ast.If) and _is_type_checking(node.test):
        for statement in node.orelse:
            yield from _imported(statement)
    else:
        for child in ast.iter_child_nodes(node):
            yield from _imported(child)


def _names(statement: ast.Import | ast.ImportFrom) -> list[str]:
    """The full dotted names an import loads (``from a import b`` may load module ``a.b``)."""
    if isinstance(statement, ast.Import):
        return [alias.name for alias in statement.names]
    assert statement.level == 0, "keyplane imports absolutely"
    module = statement.module or ""
    return [module] + [f"{module}.{alias.name}" for alias in statement.names]


def _is_edge(relative: str) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return name == "endpoints.py" or name.endswith("_endpoints.py") or relative in EDGE


def test_only_the_edge_imports_the_framework() -> None:
    offenders = {
        relative: sorted(
            {
                name
                for statement in _imported(tree)
                for name in _names(statement)
                if name.split(".")[0] in FRAMEWORKS
            }
        )
        for relative, tree in _modules()
        if not _is_edge(relative)
    }
    assert {module: names for module, names in offenders.items() if names} == {}


def test_every_exemption_is_used() -> None:
    """A module renamed, gone, or free of the framework leaves no stale exemption behind."""
    importers = {
        relative
        for relative, tree in _modules()
        if any(
            name.split(".")[0] in FRAMEWORKS for statement in _imported(tree) for name in _names(statement)
        )
    }
    assert set(EDGE) - importers == set()


def _package(dotted: str) -> str | None:
    """The node of ``dotted`` in the package graph: ``keyplane.<subpackage>``, or a top-level
    module (``keyplane.db``) as a package of its own; None outside keyplane."""
    parts = dotted.split(".")
    if parts[0] != "keyplane" or len(parts) == 1:
        return None
    return f"keyplane.{parts[1]}"


def _graph() -> dict[str, set[str]]:
    known = {f"keyplane.{path.stem}" for path in ROOT.glob("*.py") if path.stem != "__init__"}
    known |= {f"keyplane.{path.name}" for path in ROOT.iterdir() if (path / "__init__.py").exists()}
    edges: dict[str, set[str]] = {node: set() for node in known}
    for relative, tree in _modules():
        source = _package("keyplane." + relative.removesuffix(".py").replace("/", "."))
        if source is None:  # keyplane/__init__.py
            continue
        for statement in _imported(tree):
            for name in _names(statement):
                target = _package(name)
                if target in known and target != source:
                    edges[source].add(target)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one package (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_package_is_in_an_import_cycle() -> None:
    """No package-level cycle at all (the docstring above gives the order that keeps it so)."""
    assert _cycles(_graph()) == []


def _documented_order() -> list[str]:
    """The packages in the order this module's docstring lists them (first mention)."""
    assert __doc__ is not None
    listed = __doc__[__doc__.index("\n1. ") :]
    order: list[str] = []
    for name in re.findall(r"``(\w+)``", listed):
        if f"keyplane.{name}" not in order:
            order.append(f"keyplane.{name}")
    return order


def test_the_documented_order_holds() -> None:
    """The docstring's order names every package once and each imports only those before it."""
    edges = _graph()
    order = [node for node in _documented_order() if node in edges]
    assert set(edges) - set(order) == set(), "a package the docstring does not place"
    rank = {node: position for position, node in enumerate(order)}
    upward = sorted(
        f"{source} -> {target}"
        for source, targets in edges.items()
        for target in targets
        if rank[target] > rank[source]
    )
    assert upward == []


def test_a_cycle_is_found_and_named() -> None:
    """The check itself: a cycle through three packages is reported with its packages."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]
