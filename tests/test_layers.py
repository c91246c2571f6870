"""The apps depend in one direction (``config/layers.py``,
docs/architecture.md): every import of every module, at module level and
inside functions, relative ones resolved, goes to the module's own layer or
below, and no apps import each other round in a circle. No database."""

from __future__ import annotations

import ast
import textwrap
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from config.layers import EXEMPT, LAYERS

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Import:
    path: str  # the importing file, relative to the root: "agents/services.py"
    line: int
    target: str  # the imported module, absolute: "routing.tasks"

    @property
    def app(self) -> str:
        return self.path.split("/")[0]

    @property
    def target_app(self) -> str:
        return self.target.split(".")[0]


def _package(path: str) -> list[str]:
    """The package a file's relative imports start from."""
    parts = path[: -len(".py")].split("/")
    return parts if parts[-1] == "__init__" and parts.pop() else parts[:-1]


def imports_of(path: str, source: str) -> Iterator[Import]:
    """Every import statement anywhere in the module (functions, classes,
    ``if TYPE_CHECKING:`` blocks included), as absolute module names, in the
    order of their lines."""
    nodes = [n for n in ast.walk(ast.parse(source, filename=path)) if isinstance(n, ast.Import | ast.ImportFrom)]
    for node in sorted(nodes, key=lambda n: (n.lineno, n.col_offset)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                yield Import(path, node.lineno, node.module or "")
                continue
            package = _package(path)
            base = package[: len(package) - (node.level - 1)]
            if node.module:
                yield Import(path, node.lineno, ".".join([*base, node.module]))
            elif base:
                yield Import(path, node.lineno, ".".join(base))
            else:  # "from .. import routing" at an app's top: the names are modules
                for alias in node.names:
                    yield Import(path, node.lineno, alias.name)


def app_modules(root: Path, layers: Mapping[str, int], exempt: frozenset[str] = frozenset()) -> Iterator[str]:
    """The Python files of every declared app, migrations and exempt files left out."""
    for app in sorted(layers):
        for file in sorted((root / app).rglob("*.py")):
            path = file.relative_to(root).as_posix()
            if "migrations" in file.relative_to(root).parts or path in exempt:
                continue
            yield path


def cross_app_imports(root: Path, layers: Mapping[str, int], exempt: frozenset[str] = frozenset()) -> Iterator[Import]:
    for path in app_modules(root, layers, exempt):
        for found in imports_of(path, (root / path).read_text(encoding="utf-8")):
            if found.target_app in layers and found.target_app != found.app:
                yield found


def upward_imports(root: Path, layers: Mapping[str, int], exempt: frozenset[str] = frozenset()) -> list[str]:
    """One line per import that climbs the order, naming both modules."""
    return [
        f"{i.path}:{i.line} imports {i.target} (layer {layers[i.target_app]}) from {i.app} (layer {layers[i.app]})"
        for i in cross_app_imports(root, layers, exempt)
        if layers[i.target_app] > layers[i.app]
    ]


def app_graph(imports: list[Import]) -> dict[str, dict[str, list[Import]]]:
    graph: dict[str, dict[str, list[Import]]] = defaultdict(lambda: defaultdict(list))
    for i in imports:
        graph[i.app][i.target_app].append(i)
    return graph


def strongly_connected(nodes: list[str], edges: Mapping[str, Mapping[str, object]]) -> list[list[str]]:
    """Tarjan's strongly connected components."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges.get(node, {}):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in nodes:
        if node not in index:
            visit(node)
    return components


def cycles(root: Path, layers: Mapping[str, int], exempt: frozenset[str] = frozenset()) -> list[str]:
    """One line per group of apps that import each other round, with the
    imports inside the group that do not go down the order (those close it)."""
    graph = app_graph(list(cross_app_imports(root, layers, exempt)))
    out = []
    for component in strongly_connected(sorted(layers), graph):
        if len(component) > 1:
            edges = [
                f"{imports[0].path}:{imports[0].line} imports {imports[0].target}"
                for app in component
                for target, imports in sorted(graph[app].items())
                if target in component and layers[target] >= layers[app]
            ]
            out.append(f"{', '.join(component)} import each other: " + "; ".join(edges))
    return out


# --- the project ----------------------------------------------------------------


def test_every_app_is_in_the_layer_table():
    apps = {p.parent.name for p in ROOT.glob("*/apps.py")} | {"config"}
    assert apps - set(LAYERS) == set(), "declare the new app's layer in config/layers.py"
    assert set(LAYERS) - apps == set(), "config/layers.py names an app that is gone"


def test_no_module_imports_from_a_higher_layer():
    climbing = upward_imports(ROOT, LAYERS, EXEMPT)
    assert climbing == [], "imports that climb the layers (config/layers.py):\n" + "\n".join(climbing)


def test_no_apps_import_each_other_round():
    found = cycles(ROOT, LAYERS, EXEMPT)
    assert found == [], "apps in a cycle:\n" + "\n".join(found)


# --- the checker itself -----------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_the_checker_catches_an_upward_import_inside_a_function(tmp_path):
    _write(
        tmp_path,
        {
            "low/__init__.py": "",
            "low/services.py": """\
                from low import models
                from config import events


                def act():
                    from high.tasks import react

                    react()
            """,
            "low/migrations/0001_initial.py": "import high.models\n",
            "high/__init__.py": "",
            "high/tasks.py": "from low.services import act\n",
            "config/__init__.py": "",
            "config/urls.py": "import high.tasks\n",
        },
    )
    layers = {"config": 0, "low": 1, "high": 2}
    assert upward_imports(tmp_path, layers, frozenset({"config/urls.py"})) == [
        "low/services.py:6 imports high.tasks (layer 2) from low (layer 1)"
    ]
    assert cycles(tmp_path, layers, frozenset({"config/urls.py"})) == [
        "high, low import each other: low/services.py:6 imports high.tasks"
    ]


def test_the_checker_resolves_relative_imports(tmp_path):
    _write(
        tmp_path,
        {
            "low/__init__.py": "from . import models\n",
            "low/sub/__init__.py": "",
            "low/sub/mod.py": """\
                import typing

                if typing.TYPE_CHECKING:
                    from ...high import tasks
                from ..models import Thing
            """,
            "high/__init__.py": "",
            "high/tasks.py": "",
        },
    )
    found = {(i.path, i.target) for i in cross_app_imports(tmp_path, {"low": 1, "high": 2})}
    assert found == {("low/sub/mod.py", "high")}
    assert upward_imports(tmp_path, {"low": 1, "high": 2}) == [
        "low/sub/mod.py:4 imports high (layer 2) from low (layer 1)"
    ]
    mod = list(imports_of("low/sub/mod.py", (tmp_path / "low/sub/mod.py").read_text()))
    assert [(i.line, i.target) for i in mod] == [(1, "typing"), (4, "high"), (5, "low.models")]
    init = list(imports_of("low/__init__.py", (tmp_path / "low/__init__.py").read_text()))
    assert [i.target for i in init] == ["low"]


def test_same_layer_imports_pass_one_way_and_fail_round(tmp_path):
    _write(tmp_path, {"a/x.py": "import b.y\n", "b/y.py": ""})
    assert upward_imports(tmp_path, {"a": 1, "b": 1}) == []
    assert cycles(tmp_path, {"a": 1, "b": 1}) == []
    _write(tmp_path, {"b/y.py": "def f():\n    import a.x\n"})
    assert cycles(tmp_path, {"a": 1, "b": 1}) == ["a, b import each other: a/x.py:1 imports b.y; b/y.py:2 imports a.x"]
