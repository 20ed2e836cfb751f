"""The layers hold: HTTP (FastAPI, Starlette) stays at the edge, and keyplane's packages import
one another without a cycle.

Both read the source with ``ast``: only imports that run when a module loads count (those at
module level, outside ``if TYPE_CHECKING:``); an import inside a function is a deliberate
deferral and is not a dependency of the module's layer.
"""

from __future__ import annotations

import ast
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


def _loaded(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports that run when the module loads."""
    for statement in body:
        if isinstance(statement, ast.Import | ast.ImportFrom):
            yield statement
        elif isinstance(statement, ast.If):
            if not _is_type_checking(statement.test):
                yield from _loaded(statement.body)
            yield from _loaded(statement.orelse)
        elif isinstance(statement, ast.Try):
            for block in (statement.body, statement.orelse, statement.finalbody):
                yield from _loaded(block)
            for handler in statement.handlers:
                yield from _loaded(handler.body)


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
                for statement in _loaded(tree.body)
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
            name.split(".")[0] in FRAMEWORKS for statement in _loaded(tree.body) for name in _names(statement)
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
        for statement in _loaded(tree.body):
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


KNOWN_CYCLE = frozenset(
    {
        "keyplane.accounts",
        "keyplane.api_keys",
        "keyplane.auth",
        "keyplane.config",
        "keyplane.credentials",
        "keyplane.error_handlers",
        "keyplane.events",
        "keyplane.hot",
        "keyplane.keys",
        "keyplane.licenses",
        "keyplane.licensing",
        "keyplane.machines",
        "keyplane.negotiation",
        "keyplane.observe",
        "keyplane.policies",
        "keyplane.products",
        "keyplane.ratelimit",
        "keyplane.signing",
        "keyplane.tokens",
        "keyplane.users",
    }
)
"""The one cycle left, to be broken, never grown. Its knots: ``auth`` holds both what every
package needs (principal, scopes, network) and what needs them (the framework's dependencies,
the credential check over ``credentials``, which imports ``auth`` back); domain endpoints
render other domains' resources (``licenses`` -> ``users``, ``tokens`` -> ``products``, ...);
``licenses`` and ``machines`` share the validation's machine rules; ``config`` parses networks
with ``auth.network``; ``events``, like every domain, has its endpoints on ``auth``'s framework
dependencies, whose packages record events. ``kit``, ``models``, ``errors``, ``db`` and the bus
are out of it."""


def test_no_package_joins_an_import_cycle() -> None:
    """No package-level cycle but the known one, which may only shrink: a package that joins
    it, or a second cycle, fails; so does a package that left it (take it off the list)."""
    cycles = _cycles(_graph())
    assert len(cycles) <= 1, f"a new import cycle among {cycles[1:]}"
    found = frozenset(cycles[0]) if cycles else frozenset()
    assert found - KNOWN_CYCLE == set(), f"joined the import cycle: {sorted(found - KNOWN_CYCLE)}"
    assert KNOWN_CYCLE - found == set(), f"no longer in the cycle (good): {sorted(KNOWN_CYCLE - found)}"


def test_a_cycle_is_found_and_named() -> None:
    """The check itself: a cycle through three packages is reported with its packages."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]
