"""The shape of the source tree: which package may import which, and no module importing itself
round a loop.

Every import counts, at the top of a file, inside a function or under ``if TYPE_CHECKING``: an
import moved into a function still ties the two modules together, it only hides the knot until
the function runs. The packages are found, not listed: every top-level folder with an
``__init__.py`` (so a package added later is checked without touching this file).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# package -> the packages it must never import (models/ is the core; bot/ speaks to people but
# knows nothing of HTTP).
FORBIDDEN = {
    "models": {"bot", "webhooks"},
    "bot": {"webhooks"},
}


def project_packages() -> list[str]:
    return sorted(p.parent.name for p in ROOT.glob("*/__init__.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in project_packages():
        for path in (ROOT / package).rglob("*.py"):
            modules[module_name(path)] = path
    return modules


def imported(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool,
             modules: dict[str, Path]) -> set[str]:
    """The project modules an import statement loads, each named by its deepest module."""

    def deepest(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    if isinstance(node, ast.Import):
        found = {deepest(alias.name) for alias in node.names}
        return {m for m in found if m}
    if node.level:
        base = importer.split(".")
        base = base[: len(base) - node.level + (1 if is_package else 0)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    found = set()
    for alias in node.names:
        # ``from models import vouchers`` loads the submodule; ``from models import Base``
        # loads the package itself.
        found.add(deepest(f"{source}.{alias.name}") if source else deepest(alias.name))
    return {m for m in found if m}


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        graph[name]  # every module is a node, importing or not
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                targets = imported(node, name, path.name == "__init__.py", modules)
                graph[name] |= {t for t in targets if t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def describe(component: list[str], graph: dict[str, set[str]]) -> str:
    members = set(component)
    arrows = [f"  {m} -> {', '.join(sorted(graph[m] & members))}" for m in component]
    return "\n".join([" / ".join(component), *arrows])


def test_the_packages_are_found():
    assert {"models", "bot", "webhooks"} <= set(project_packages())


def test_cycle_finder_sees_a_loop_through_a_function_level_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    source = "def f():\n    from models import vouchers\n"
    node = ast.parse(source).body[0].body[0]
    assert imported(node, "models.registration", False,
                    {"models": ROOT, "models.vouchers": ROOT}) == {"models.vouchers"}


def test_no_import_cycles():
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(describe(c, graph) for c in found)


def test_layers():
    graph = import_graph()
    wrong = sorted(
        f"{importer} imports {target}"
        for importer, targets in graph.items()
        for target in targets
        if target.split(".")[0] in FORBIDDEN.get(importer.split(".")[0], set())
    )
    assert not wrong, "\n".join(wrong)


# --- each module's logger and the length of a function ------------------------------------------

# Not product code: the tests, the benchmarks and the schema's revisions have no logger of their
# own to keep.
NOT_PRODUCT = {"tests", "bench", "migrations"}
LONGEST_FUNCTION = 80  # lines, from ``def`` (or its first decorator) to the last line of the body


def is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
        and isinstance(node.value.value, str)


def source_files() -> list[Path]:
    """Every Python file of the repository except the schema's revisions (generated, then frozen)
    and whatever lies in hidden folders or the virtualenv."""
    files = sorted(ROOT.glob("*.py"))
    for folder in sorted(ROOT.iterdir()):
        if folder.is_dir() and not folder.is_symlink() and not folder.name.startswith(".") \
                and folder.name != "migrations":
            files += sorted(folder.rglob("*.py"))
    return files


def test_every_product_module_has_its_logger():
    missing = []
    for name, path in sorted(project_modules().items()):
        if name.split(".")[0] in NOT_PRODUCT:
            continue
        body = ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body
        if not [node for node in body if not is_docstring(node)]:
            continue  # a package whose __init__ holds only its docstring
        if not any(isinstance(node, ast.Assign)
                   and any(isinstance(t, ast.Name) and t.id == "logger" for t in node.targets)
                   for node in body):
            missing.append(name)
    assert not missing, "no `logger = logging.getLogger(__name__)` in:\n" + "\n".join(missing)


def test_no_function_is_longer_than_80_lines():
    long = []
    for path in source_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                lines = node.end_lineno - start + 1
                if lines > LONGEST_FUNCTION:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert not long, "functions over 80 lines:\n" + "\n".join(long)
