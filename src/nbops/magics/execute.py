"""Run a cell body the way IPython runs a cell, inside a magic (as ``%%time`` does).

The body is transformed (``!shell``, ``%magics``), cached for tracebacks,
passed through the shell's AST transformers and executed in the user
namespace; a trailing expression is evaluated and returned as the cell's
output. Errors propagate, so the cell fails (and papermill/nbclient see it).
A body with top-level ``await`` must run in the kernel's event loop: an input
transformer rewrites such a ``%%track`` cell into ``await <magic>.track_async(...)``
so IPython runs the whole cell as a coroutine.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

_AWAIT_FLAG = getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)
_MAGIC_CALL = "get_ipython().run_cell_magic('track',"


def compile_body(shell: Any, transformed: str, raw: str, *, allow_await: bool = False,
                 number: int | None = None) -> tuple[Any, Any]:
    """(code for the statements, code for a trailing expression or None)."""
    __tracebackhide__ = True
    tree = shell.compile.ast_parse(transformed)
    tree = shell.transform_ast(tree)
    filename = shell.compile.cache(transformed, number if number is not None else shell.execution_count,
                                    raw_code=raw)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body[-1].value)
        tree = ast.Module(tree.body[:-1], type_ignores=[])
    with shell.compile.extra_flags(_AWAIT_FLAG if allow_await else 0):
        code = shell.compile(tree, filename, "exec")
        expr = shell.compile(last, filename, "eval") if last is not None else None
    return code, expr


def run_body(shell: Any, code: Any, expr: Any) -> Any:
    __tracebackhide__ = True
    ns = shell.user_ns
    exec(code, shell.user_global_ns, ns)
    return eval(expr, shell.user_global_ns, ns) if expr is not None else None


async def run_body_async(shell: Any, code: Any, expr: Any) -> Any:
    __tracebackhide__ = True
    ns = shell.user_ns
    result = eval(code, shell.user_global_ns, ns)
    if hasattr(result, "__await__"):
        await result
    if expr is None:
        return None
    out = eval(expr, shell.user_global_ns, ns)
    return await out if _is_coroutine_code(expr) else out


def _is_coroutine_code(code: Any) -> bool:
    import inspect

    return bool(code.co_flags & inspect.CO_COROUTINE)


def await_transformer(has_await: Callable[[str], bool], target: str) -> Callable[[list[str]], list[str]]:
    """An ``input_transformers_post`` step: ``%%track`` cells with top-level await become async."""

    def transform(lines: list[str]) -> list[str]:
        text = "".join(lines)
        if not text.startswith(_MAGIC_CALL):
            return lines
        try:
            call = ast.parse(text).body[0].value  # type: ignore[attr-defined]
            line, body = (ast.literal_eval(a) for a in call.args[1:3])
        except (SyntaxError, ValueError, AttributeError, IndexError):
            return lines
        if not has_await(body):
            return lines
        return [f"await {target}.track_async({line!r}, {body!r})\n"]

    return transform
