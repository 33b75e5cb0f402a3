"""The names a cell reads, binds, deletes and may mutate, by static analysis of its source.

The analysis walks the module-level statements in order. A name is *read*
when it is loaded before the cell binds it (so ``x = 1; print(x)`` does not
read a previous ``x``); names loaded inside functions, lambdas, classes and
comprehensions count as reads when they are free in that scope (they come
from the notebook's namespace). A name *may be mutated* when the cell assigns
to one of its attributes or items (``df.loc[m, "a"] = 0``), deletes one,
augments one, calls a method on it, or passes it to a call; the namespace
snapshot then confirms or refutes the change by content.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# Methods that never change the object they are called on: calling them does not make
# the receiver a mutation candidate (which would cost a fingerprint after the cell).
_READ_ONLY_METHODS = frozenset({
    "predict", "predict_proba", "predict_log_proba", "decision_function", "score", "transform",
    "get_params", "head", "tail", "describe", "copy", "sum", "mean", "std", "min", "max",
    "count", "value_counts", "groupby", "query", "to_numpy", "to_list", "tolist", "items",
    "keys", "values", "get", "astype", "reshape", "info", "nunique", "unique", "isna",
    "corr", "plot", "drop_duplicates", "merge", "join", "sample", "to_csv", "to_parquet",
})

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass
class CellNames:
    """What one cell's source does to the namespace, as far as the code says."""

    reads: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)
    deletes: set[str] = field(default_factory=set)
    mutated: set[str] = field(default_factory=set)
    literals: dict[str, Any] = field(default_factory=dict)  # name -> literal assigned at top level
    computed: set[str] = field(default_factory=set)  # names bound to a computed value (metric candidates)
    loop_targets: set[str] = field(default_factory=set)
    has_await: bool = False

    @property
    def candidates(self) -> set[str]:
        """Names whose values must be looked at before and after the cell."""
        return self.reads | self.writes | self.deletes | self.mutated


def _literal(node: ast.expr) -> tuple[bool, Any]:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None
    if isinstance(value, int | float | str | bool) or value is None:
        return True, value
    if isinstance(value, list | tuple) and all(isinstance(v, int | float | str | bool) for v in value):
        return True, value
    return False, None


def _target_names(node: ast.AST) -> list[str]:
    """Names a target binds (``a, (b, *c) = ...``)."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Tuple | ast.List):
        return [n for elt in node.elts for n in _target_names(elt)]
    if isinstance(node, ast.Starred):
        return _target_names(node.value)
    return []


def _base_name(node: ast.AST) -> str | None:
    """``df`` for ``df.loc[0, "a"]``, ``df["a"]``, ``obj.x.y``."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


class _ScopeFree(ast.NodeVisitor):
    """Free names of a nested scope (function, lambda, class, comprehension)."""

    def __init__(self) -> None:
        self.loads: set[str] = set()
        self.bound: set[str] = set()
        self.globals: set[str] = set()
        self.global_writes: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        (self.loads if isinstance(node.ctx, ast.Load) else self.bound).add(node.id)

    def visit_Global(self, node: ast.Global) -> None:
        self.globals.update(node.names)

    def visit_arg(self, node: ast.arg) -> None:
        self.bound.add(node.arg)

    def _nested(self, node: ast.AST) -> None:
        inner = _free_names(node)
        self.loads |= inner.loads - inner.bound
        self.global_writes |= inner.global_writes

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.bound.add(node.name)
        for d in node.decorator_list + _defaults(node.args):
            self.visit(d)
        self._nested(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for d in _defaults(node.args):
            self.visit(d)
        self._nested(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.bound.add(node.name)
        for d in node.decorator_list + node.bases + [k.value for k in node.keywords]:
            self.visit(d)
        self._nested(node)

    def _comp(self, node: ast.AST) -> None:
        self.visit(node.generators[0].iter)  # type: ignore[attr-defined]
        self._nested(node)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comp

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            self.bound.add((alias.asname or alias.name).split(".")[0])

    visit_ImportFrom = visit_Import


def _defaults(args: ast.arguments) -> list[ast.expr]:
    return [d for d in args.defaults + args.kw_defaults if d is not None]


def _free_names(scope: ast.AST) -> _ScopeFree:
    """Loads and bindings inside one scope's body (its header is visited by the caller)."""
    v = _ScopeFree()
    if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        args = scope.args
        for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
            if a is not None:
                v.bound.add(a.arg)
        body = scope.body if isinstance(scope.body, list) else [scope.body]
        for stmt in body:
            v.visit(stmt)
    elif isinstance(scope, ast.ClassDef):
        for stmt in scope.body:
            v.visit(stmt)
        # Class-level names are not visible to methods; keep it simple: they are local here.
    else:  # comprehension: targets are local, the first iterable was visited outside
        gens = scope.generators  # type: ignore[attr-defined]
        for i, gen in enumerate(gens):
            v.visit(gen.target)
            if i:
                v.visit(gen.iter)
            for cond in gen.ifs:
                v.visit(cond)
        for part in ("elt", "key", "value"):
            if hasattr(scope, part):
                v.visit(getattr(scope, part))
    v.global_writes |= v.globals & v.bound
    v.bound -= v.globals
    return v


class _CellVisitor(ast.NodeVisitor):
    """Top-level statements in order: loads before bindings are reads."""

    def __init__(self) -> None:
        self.out = CellNames()
        self.bound: set[str] = set()

    # -- loads and bindings ------------------------------------------------
    def _read(self, name: str) -> None:
        if name not in self.bound:
            self.out.reads.add(name)

    def _bind(self, name: str) -> None:
        self.bound.add(name)
        self.out.writes.add(name)
        self.out.deletes.discard(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._read(node.id)
        elif isinstance(node.ctx, ast.Store):
            self._bind(node.id)
        else:
            self._read(node.id)
            self.out.deletes.add(node.id)
            self.out.writes.discard(node.id)
            self.bound.discard(node.id)

    def _scope(self, node: ast.AST) -> None:
        inner = _free_names(node)
        for name in inner.loads - inner.bound:
            self._read(name)
        for name in inner.global_writes:
            self.out.writes.add(name)
            self.out.computed.add(name)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for d in node.decorator_list + _defaults(node.args):
            self.visit(d)
        self._scope(node)
        self._bind(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for d in node.decorator_list + node.bases + [k.value for k in node.keywords]:
            self.visit(d)
        self._scope(node)
        self._bind(node.name)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for d in _defaults(node.args):
            self.visit(d)
        self._scope(node)

    def _comp(self, node: ast.AST) -> None:
        self.visit(node.generators[0].iter)  # type: ignore[attr-defined]
        self._scope(node)
        for sub in ast.walk(node):  # walrus in a comprehension binds in the cell's scope
            if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                self._bind(sub.target.id)
                self.out.computed.add(sub.target.id)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comp

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self._bind((alias.asname or alias.name).split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_Global(self, node: ast.Global) -> None:
        pass

    def visit_Await(self, node: ast.Await) -> None:
        self.out.has_await = True
        self.generic_visit(node)

    def visit_AsyncFor(self, node: ast.AsyncFor) -> None:
        self.out.has_await = True
        self.visit_For(node)

    def visit_AsyncWith(self, node: ast.AsyncWith) -> None:
        self.out.has_await = True
        self.generic_visit(node)

    # -- statements that bind or mutate -----------------------------------
    def _mutate_target(self, target: ast.AST) -> None:
        if isinstance(target, ast.Attribute | ast.Subscript):
            base = _base_name(target)
            self.visit(target)  # the base and any index expressions are read
            if base:
                self.out.mutated.add(base)
        elif isinstance(target, ast.Tuple | ast.List | ast.Starred):
            for elt in (target.elts if not isinstance(target, ast.Starred) else [target.value]):
                self._mutate_target(elt)
        else:
            self.visit(target)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        is_lit, value = _literal(node.value)
        for target in node.targets:
            self._mutate_target(target)
            for name in _target_names(target):
                self._classify(name, is_lit and isinstance(target, ast.Name), value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self._mutate_target(node.target)
            is_lit, value = _literal(node.value)
            if isinstance(node.target, ast.Name):
                self._classify(node.target.id, is_lit, value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self._read(node.target.id)
            self.out.mutated.add(node.target.id)
            self._bind(node.target.id)
            self._classify(node.target.id, False, None)
        else:
            self._mutate_target(node.target)

    def _classify(self, name: str, is_literal: bool, value: Any) -> None:
        if is_literal:
            self.out.literals[name] = value
            self.out.computed.discard(name)
        else:
            self.out.computed.add(name)
            self.out.literals.pop(name, None)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.visit(node.target)
        self.out.loop_targets.update(_target_names(node.target))
        for stmt in node.body + node.orelse:
            self.visit(stmt)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.visit(target)
            else:
                self._mutate_target(target)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr not in _READ_ONLY_METHODS:
            base = _base_name(func.value)
            if base:
                self.out.mutated.add(base)
        for arg in list(node.args) + [k.value for k in node.keywords]:
            inner = arg.value if isinstance(arg, ast.Starred) else arg
            if isinstance(inner, ast.Name):
                self.out.mutated.add(inner.id)
        self.generic_visit(node)


@lru_cache(maxsize=256)
def _analyze_cached(source: str) -> CellNames:
    tree = ast.parse(source)
    v = _CellVisitor()
    for stmt in tree.body:
        v.visit(stmt)
    out = v.out
    out.computed -= out.loop_targets
    for name in list(out.literals):
        if name in out.loop_targets:
            del out.literals[name]
    out.mutated &= out.reads | out.writes
    return out


def analyze(source: str) -> CellNames:
    """Names ``source`` (already transformed to plain Python) reads, binds, deletes, may mutate.

    Raises SyntaxError when the source does not parse.
    """
    cached = _analyze_cached(source)
    return CellNames(set(cached.reads), set(cached.writes), set(cached.deletes),
                     set(cached.mutated), dict(cached.literals), set(cached.computed),
                     set(cached.loop_targets), cached.has_await)
