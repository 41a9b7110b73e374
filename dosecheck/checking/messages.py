"""The one-line messages of evaluated constraints: value, limit, margin or excess, and
what would meet the limit (``V45Gy = 312.4 cc, limit 300 cc: 12.4 cc over; D300cc =
45.9 Gy``)."""

from __future__ import annotations

import math

from dosecheck.checking.conversion import Conversion
from dosecheck.checking.fractionation import from_physical
from dosecheck.checking.model import Constraint
from dosecheck.core.dvh import DVH
from dosecheck.errors import MetricDomainError
from dosecheck.metrics import Metric, format_number

__all__ = ["fmt", "index_detail", "message", "short_label"]


def message(
    c: Constraint,
    dvh: DVH,
    value: float,
    limit: float,
    ok: bool,
    rx: float | None,
    conv: Conversion | None = None,
) -> str:
    """E.g. ``V45Gy = 312.4 cc, limit 300 cc: 12.4 cc over; D300cc = 45.9 Gy`` and
    ``D2cc = 47.1 Gy, limit 45 Gy: 2.1 Gy over; V45Gy = 3.4 cc``.

    Converted constraints say so: ``V45Gy (EQD2, α/β 3 Gy) = V46.35Gy physical in 25 fx
    = 312.4 cc, limit 300 cc: …`` and ``D2cc = 44 Gy, limit 46.35 Gy physical in 25 fx
    (45 Gy EQD2, α/β 3 Gy): …``.
    """
    unit = c.metric.output_unit
    sep = "" if unit in ("%", "") else " "
    if c.limit_unit_is_percent_rx or (conv is not None and conv.limit is not None):
        limit_n, places = fmt(limit), 2
    else:  # as written, and the value at least as precise (a ratio to 3 decimals)
        limit_n = format_number(limit)
        places = max(3 if c.metric.is_index else 2, len(limit_n.partition(".")[2]))
    limit_s = f"{limit_n}{sep}{unit}"
    if c.limit_unit_is_percent_rx and rx is not None:
        limit_s += f" ({c.limit_text} of {fmt(rx)} Gy)"
    label = c.metric.label
    if conv is not None and conv.limit is None:  # V/CV: the threshold was converted
        physical = f"{short_label(conv.metric)} physical in {conv.fractions} fx"
        label = f"{label} ({c.basis_text}) = {physical}"
    elif conv is not None:  # a dose metric: the limit was converted
        written = f"{format_number(c.limit)}{sep}{unit}"
        limit_s += f" physical in {conv.fractions} fx ({written} {c.basis_text})"
    head = f"{label} = {fmt(value, places)}{sep}{unit}, limit {limit_s}"
    diff = abs(value - limit)
    if ok:
        return f"{head}: {fmt(diff, places)}{sep}{unit} margin"
    if diff == 0:
        return f"{head}: equal to the limit, which must be {c.comparator} {limit_s}"
    msg = f"{head}: {fmt(diff, places)}{sep}{unit} {'over' if c.is_upper_limit else 'under'}"
    if c.metric.kind == "V":
        hint = _dose_at_limit(c, limit, dvh, rx, conv)
    else:
        hint = _volume_at_limit(c, limit, limit_n, dvh, rx)
    return f"{msg}; {hint}" if hint else msg


def short_label(m: Metric) -> str:
    """``V46.35Gy``: a converted metric's label with its dose to 2 decimals."""
    assert m.number is not None
    return f"{m.kind}{fmt(m.number)}{m.number_unit}"


def _dose_at_limit(
    c: Constraint, limit: float, dvh: DVH, rx: float | None, conv: Conversion | None = None
) -> str | None:
    """For a failed limit on ``V``: the dose the limiting volume now receives (upper
    limit) or the dose now covering the required volume (lower limit); for a converted
    constraint, that dose on the constraint's basis too."""
    metric = c.metric
    if metric.kind != "V" or metric.number_unit is None:
        return None
    if metric.output_unit == "%" and limit > 100:
        return None
    d = Metric("D", limit, metric.output_unit, metric.number_unit)
    try:
        value = d.evaluate(dvh, rx).value
        s = f"{d.label} = {fmt(value)}{'%' if d.output_unit == '%' else ' ' + d.output_unit}"
        if d.output_unit == "%":
            s += f" ({fmt(Metric('D', limit, metric.output_unit, 'Gy').evaluate(dvh).value)} Gy)"
        if conv is not None:
            scale = 100.0 if d.output_unit == "cGy" else 1.0
            on_basis = scale * from_physical(
                value / scale, c.dose_basis, conv.fractions, c.alpha_beta, c.basis_fractions
            )
            s += f" physical ({fmt(on_basis)} {d.output_unit} {c.basis_text})"
    except MetricDomainError:
        return None
    return s


def _volume_at_limit(
    c: Constraint, limit: float, limit_n: str, dvh: DVH, rx: float | None
) -> str | None:
    """For a failed limit on ``D``, a failed upper limit on ``Max`` or a failed lower
    limit on ``Min``: the volume that now receives the limit dose (the volume to bring
    below it, or the coverage at it), in the unit of the ``D`` volume (cc for ``Max`` and
    ``Min``). ``limit`` is physical and in the metric's unit; ``limit_n`` is how the
    message writes it. E.g. ``V45Gy = 3.4 cc``, ``V107% = 3.1%``."""
    m = c.metric
    if m.kind == "D":
        volume_unit = m.number_unit
    elif (m.kind == "Max" and c.is_upper_limit) or (m.kind == "Min" and not c.is_upper_limit):
        volume_unit = "cc"
    else:
        return None
    try:
        value = Metric("V", limit, m.output_unit, volume_unit).evaluate(dvh, rx).value
    except (ValueError, MetricDomainError):  # a negative limit, no prescription, ...
        return None
    if not math.isfinite(value):
        return None
    sep = "" if volume_unit == "%" else " "
    return f"V{limit_n}{m.output_unit} = {fmt(value)}{sep}{volume_unit}"


def fmt(x: float, places: int = 2) -> str:
    """``x`` to ``places`` decimals, trailing zeros dropped; 3 significant digits below 0.1."""
    if x != 0 and abs(x) < 0.1:
        return format_number(float(f"{x:.3g}"))
    return format_number(round(x, places))


def index_detail(metric: Metric, dvh: DVH, rx: float | None, body: DVH | None) -> str:
    """What a plan-quality index was computed from, for its message: ``TV 68 cc, TV_RI
    64.2 cc, V_RI 80.1 cc at 47.88 Gy (body 'BODY')``, ``V_25Gy 310 cc / V_50Gy 80 cc``
    or ``D2% 52.1 Gy, D98% 47 Gy, D50% 50.2 Gy``."""
    from dosecheck.core.plan_quality import isodose_volumes

    if metric.kind == "HI":
        d = {p: dvh.dose_at_volume_percent(p) for p in (2.0, 98.0, 50.0)}
        return ", ".join(f"D{format_number(p)}% {fmt(g)} Gy" for p, g in d.items())
    assert body is not None
    gy = metric.isodose_gy(rx)
    of = f" (body {body.name!r})" if body.name else ""
    if metric.kind == "GI":
        assert rx is not None
        low, high = body.volume_at_dose(gy), body.volume_at_dose(rx)
        return f"V_{fmt(gy)}Gy {fmt(low)} cc / V_{fmt(rx)}Gy {fmt(high)} cc{of}"
    tv, tv_ri, v_ri = isodose_volumes(dvh, body, gy)
    return f"TV {fmt(tv)} cc, TV_RI {fmt(tv_ri)} cc, V_RI {fmt(v_ri)} cc at {fmt(gy)} Gy{of}"
