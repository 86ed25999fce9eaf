"""The shape of the packages: imports between the modules of shopify_app/ and webhooks/."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("shopify_app", "webhooks")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports (those imported only for type checking too), resolving
    relative imports and `from package import module`."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [source] + [f"{source}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_import_graph_of_shopify_app_and_webhooks_has_no_cycle():
    # A package's __init__ importing its own modules is how a package is built, not a cycle.
    graph = {
        name: {t for t in targets if not (name == t.rpartition(".")[0] or t.startswith(name + "."))}
        for name, targets in import_graph().items()
    }
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_shopify_app_never_imports_webhooks():
    offenders = sorted(
        f"{name} imports {target}"
        for name, targets in import_graph().items()
        if name.startswith("shopify_app")
        for target in targets
        if target.split(".")[0] == "webhooks"
    )
    assert offenders == ["shopify_app.app imports webhooks"], (
        offenders
    )  # the app mounts webhooks.routes: the one way in


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_test_module_imports_from_another_or_from_a_conftest():
    """Factories live in tests/support.py (and fixtures in conftest.py), not in test modules."""
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level and node.module:
                last = node.module.rpartition(".")[2]
                if last.startswith("test_") or last == "conftest":
                    offenders.append(f"{path.relative_to(ROOT)}: from {node.module}")
    assert not offenders, offenders


ROUTES = "shopify_app.routes"
ASSEMBLES_THE_APP = "shopify_app.app"  # builds the application from the route lists


def _is_routes(module: str) -> bool:
    return module == ROUTES or module.startswith(ROUTES + ".")


def test_no_module_outside_routes_imports_from_routes():
    # Routing sits on top: services, errors and webhooks/ are below it (errors.py, not routes/).
    offenders = sorted(
        f"{name} imports {target}"
        for name, targets in import_graph().items()
        if not _is_routes(name) and name != ASSEMBLES_THE_APP
        for target in targets
        if _is_routes(target)
    )
    assert offenders == []


def test_the_routes_check_sees_relative_imports_and_the_modules_that_moved_away():
    graph = import_graph()
    assert "shopify_app.routes.responses" in graph[ASSEMBLES_THE_APP]
    assert "shopify_app.errors" in graph["shopify_app.admin.session"]  # `from ..errors import`
    assert "shopify_app.errors" in graph["webhooks.receive"]
