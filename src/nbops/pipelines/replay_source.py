"""Source rewriting for replay, on the AST: literal parameters out of cells, imports gathered.

Everything here works on plain Python (the recorded source of a tracked cell is
already transformed by IPython). Statements are located by the AST and cut
from the text by their line ranges, so comments and formatting of the rest of
a cell survive; only when a removed statement shares a line with another one
(``a = 1; fit()``) is the cell re-emitted with ``ast.unparse``.
"""

from __future__ import annotations

import ast
import builtins
import io
import json
import tokenize
from collections import Counter
from dataclasses import dataclass
from typing import Any

from nbops.tracking.names_ast import _literal

# Names a kernel provides without any cell defining them.
_KERNEL_NAMES = frozenset(dir(builtins)) | {"get_ipython", "display", "In", "Out", "exit", "quit"}
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
           ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True)
class LiteralAssignment:
    """A top-level ``name = <literal>`` statement of a cell."""

    name: str
    value: Any
    text: str  # the literal as written
    index: int  # of the statement in the cell's top-level statements
    comment: str | None  # a trailing ``# ...`` on the statement's last line

    @property
    def key(self) -> str:
        """Equal for equal values of equal types (``1`` and ``1.0`` differ)."""
        return json.dumps([type(self.value).__name__, repr(self.value)])


def parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def literal_assignments(source: str) -> list[LiteralAssignment]:
    """The cell's top-level single-name assignments of a literal scalar (or list/tuple of them)."""
    tree = parse(source)
    if tree is None:
        return []
    lines = source.splitlines()
    out = []
    for index, stmt in enumerate(tree.body):
        target, value = _simple_assignment(stmt)
        if target is None or value is None:
            continue
        ok, literal = _literal(value)
        if not ok:
            continue
        text = ast.get_source_segment(source, value) or repr(literal)
        last = stmt.end_lineno or stmt.lineno
        out.append(LiteralAssignment(target, literal, text, index,
                                     _trailing_comment(lines[last - 1], stmt.end_col_offset)))
    return out


def _simple_assignment(stmt: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id, stmt.value
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
        return stmt.target.id, stmt.value
    return None, None


def _trailing_comment(line: str, end_col: int | None) -> str | None:
    rest = line.encode()[end_col or 0:].decode(errors="replace").strip()
    if not rest.startswith("#"):
        return None
    try:  # a '#' inside a string literal is not a comment; tokenize knows
        toks = list(tokenize.generate_tokens(io.StringIO(rest + "\n").readline))
    except (tokenize.TokenError, SyntaxError):
        return None
    comments = [t.string for t in toks if t.type == tokenize.COMMENT]
    return comments[0].lstrip("#").strip() or None if comments else None


def bindings(source: str) -> Counter[str]:
    """How many times the cell binds each name in the notebook's scope (not inside functions)."""
    tree = parse(source)
    counts: Counter[str] = Counter()
    if tree is None:
        return counts
    for stmt in tree.body:
        _count_bindings(stmt, counts)
    return counts


def _count_bindings(node: ast.AST, counts: Counter[str]) -> None:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        counts[node.name] += 1
        for sub in ast.walk(node):  # `global x` inside a function binds the notebook's x
            if isinstance(sub, ast.Global):
                counts.update(sub.names)
        return
    if isinstance(node, _SCOPES):
        for sub in ast.walk(node):  # a walrus inside a comprehension binds in the cell's scope
            if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                counts[sub.target.id] += 1
        return
    if isinstance(node, ast.Import | ast.ImportFrom):
        counts.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        return
    if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
        counts[node.id] += 1
    for child in ast.iter_child_nodes(node):
        _count_bindings(child, counts)


def remove_statements(source: str, indexes: set[int]) -> str:
    """``source`` without its top-level statements at these indexes."""
    tree = parse(source)
    if not indexes or tree is None:
        return source
    spans = [(s.lineno, s.end_lineno or s.lineno) for s in tree.body]
    drop = [spans[i] for i in sorted(indexes)]
    kept = [spans[i] for i in range(len(spans)) if i not in indexes]
    if any(a <= d and c <= b for a, b in kept for c, d in drop):  # `k = 3; fit(k)`
        body = [s for i, s in enumerate(tree.body) if i not in indexes]
        return ast.unparse(ast.Module(body=body, type_ignores=[])) + "\n"
    gone = {n for first, last in drop for n in range(first, last + 1)}
    lines = [line for i, line in enumerate(source.splitlines(), start=1) if i not in gone]
    return "\n".join(lines).strip("\n") + "\n"


def has_statements(source: str) -> bool:
    tree = parse(source)
    return tree is None or bool(tree.body)


def loaded_names(source: str) -> set[str]:
    """Every name the cell loads anywhere (also inside its functions)."""
    tree = parse(source)
    if tree is None:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def free_names(source: str) -> set[str]:
    """Names the cell reads before binding them, minus what any kernel provides."""
    from nbops.tracking.names_ast import analyze

    try:
        reads = analyze(source).reads
    except SyntaxError:
        return set()
    return {n for n in reads if n not in _KERNEL_NAMES and not n.startswith("_")}


def imports_by_name(sources: list[str]) -> dict[str, str]:
    """name -> the last top-level import statement (as code) that binds it, over ``sources``."""
    found: dict[str, str] = {}
    for source in sources:
        tree = parse(source) or parse(python_lines(source))
        if tree is None:
            continue
        for stmt in tree.body:
            if isinstance(stmt, ast.Import | ast.ImportFrom):
                for alias in stmt.names:
                    if alias.name == "*":
                        continue
                    single = (ast.Import(names=[alias]) if isinstance(stmt, ast.Import) else
                              ast.ImportFrom(module=stmt.module, names=[alias], level=stmt.level))
                    found[(alias.asname or alias.name).split(".")[0]] = ast.unparse(single)
    return found


def python_lines(cell: str) -> str:
    """A saved notebook cell without IPython syntax (magics, ``!shell``), for import gathering."""
    keep = []
    for line in cell.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")) or stripped.endswith("?"):
            continue
        keep.append(line)
    return "\n".join(keep)
