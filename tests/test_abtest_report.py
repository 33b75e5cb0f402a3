"""The report's decision logic on per-variant summaries (no workspace needed)."""

from __future__ import annotations

from nbops.abtest.report import Decision, Summary, analyze, guardrail_breaches
from nbops.abtest.spec import Guardrail, GuardrailKind, Metric, parse_guardrail

VARIANTS = ["control", "a", "b"]


def _binary(units: int, conversions: int) -> Summary:
    return Summary(units, units, float(conversions), float(conversions))


def _analyze(sums: dict[str, Summary], guardrails: list[Guardrail] | None = None,
             health: dict[str, dict[str, float]] | None = None) -> object:
    return analyze("e", "running", "ab", sums, VARIANTS, {v: 1 / 3 for v in VARIANTS}, Metric(),
                   guardrails=guardrails or [], health=health or {})


def test_three_variants_pick_the_best_and_report_holm_adjusted_p_values() -> None:
    rep = _analyze({"control": _binary(30000, 3000), "a": _binary(30000, 3050),
                    "b": _binary(30000, 3600)})
    assert rep.decision == Decision.WINNER and rep.winner == "b"
    a, b = rep.comparison("a"), rep.comparison("b")
    assert b.adjusted_p == min(1.0, 2 * b.test.p_value)  # the smaller p is multiplied by m=2
    assert a.adjusted_p >= a.test.p_value
    assert rep.srm is not None and not rep.srm.mismatch


def test_reasons_come_in_order_guardrail_then_data_then_srm() -> None:
    floor = [parse_guardrail({"metric_floor": 0.09, "min_units": 1000})]
    bad = {"control": _binary(30000, 3000), "a": _binary(30000, 2000), "b": _binary(30000, 3000)}
    rep = _analyze(bad, floor)
    assert rep.decision == Decision.GUARDRAIL and rep.breaches == ("a: metric 0.06667 below the floor 0.09",)
    small = {"control": _binary(50, 5), "a": _binary(50, 5), "b": _binary(50, 5)}
    assert _analyze(small, floor).decision == Decision.NOT_ENOUGH_DATA  # floor waits for min_units
    skewed = {"control": _binary(30000, 3000), "a": _binary(27000, 2700), "b": _binary(30000, 3000)}
    rep = _analyze(skewed)
    assert rep.decision == Decision.SRM and rep.winner is None and "do not match" in rep.reasons[0]


def test_control_is_never_judged_by_guardrails() -> None:
    g = [Guardrail(GuardrailKind.ERROR_RATE, 0.01, min_units=10)]
    health = {"control": {"requests": 100.0, "errors": 50.0}, "a": {"requests": 100.0, "errors": 2.0}}
    assert guardrail_breaches(g, health, {}, {"control": 100, "a": 100}, "control") == [
        "a: error rate 2.000% above 1.000%"]


def test_no_difference_says_keep_collecting() -> None:
    rep = _analyze({"control": _binary(5000, 500), "a": _binary(5000, 505), "b": _binary(5000, 498)})
    assert rep.decision == Decision.NO_DIFFERENCE and "keep collecting" in rep.reasons[0]
