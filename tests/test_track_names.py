"""What the AST analysis says a cell reads, binds and may change."""

from __future__ import annotations

from nbops.tracking.names_ast import analyze


def test_reads_are_names_loaded_before_the_cell_binds_them() -> None:
    n = analyze("x = 1\ny = x + z\n")
    assert n.reads == {"z"}
    assert n.writes == {"x", "y"}


def test_functions_classes_and_comprehensions_have_their_own_scopes() -> None:
    src = (
        "def f(a, b=default):\n    c = a + glob\n    return c\n"
        "class C(Base):\n    k = 1\n    def m(self):\n        return other\n"
        "sq = [i * factor for i in data if i > lo]\n"
        "g = lambda q: q + shift\n"
    )
    n = analyze(src)
    assert {"default", "glob", "Base", "other", "factor", "data", "lo", "shift"} <= n.reads
    assert not {"a", "b", "c", "i", "k", "q", "self"} & n.reads
    assert n.writes == {"f", "C", "sq", "g"}


def test_global_statement_in_a_function_is_a_write() -> None:
    n = analyze("def bump():\n    global counter\n    counter = counter + 1\nbump()\n")
    assert "counter" in n.writes
    assert "counter" in n.reads


def test_subscript_and_attribute_assignment_mark_the_base_as_mutated() -> None:
    n = analyze("df.loc[df.a > 0, 'b'] = 1\nobj.attr = 2\nitems['k'] += 1\ndel cache['x']\n")
    assert {"df", "obj", "items", "cache"} <= n.mutated
    assert not n.writes


def test_method_calls_and_call_arguments_may_mutate_but_predict_does_not() -> None:
    n = analyze("clf.fit(X, y)\np = model.predict(X)\nshuffle(arr)\n")
    assert {"clf", "X", "y", "arr"} <= n.mutated
    assert "model" not in n.mutated


def test_literals_are_params_and_computed_numbers_are_metric_candidates() -> None:
    n = analyze("lr = 0.1\nname = 'rf'\nlayers = [64, 32]\nacc = score(m)\nfor step in range(3):\n    loss = step * 2\n")
    assert n.literals == {"lr": 0.1, "name": "rf", "layers": [64, 32]}
    assert n.computed == {"acc", "loss"}
    assert "step" not in n.computed


def test_augmented_assignment_reads_and_writes() -> None:
    n = analyze("total += 1\n")
    assert "total" in n.reads and "total" in n.writes


def test_del_and_top_level_await() -> None:
    n = analyze("del old\nres = await fetch()\n")
    assert n.deletes == {"old"}
    assert n.has_await
