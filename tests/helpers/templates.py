"""One protocol written in every template format, from the published layouts.

The protocol is the shipped ``rectum-long-course`` set (50.4 Gy in 28 fractions):
Bag_Bowel (alias BowelBag) V30Gy[cc] < 600 and V45Gy[cc] < 300 (variation 320), PTV
V95%[%] >= 95 (variation 93) and, optional, D2%[%] <= 107. The formats with a variation
limit (Varian CSV, Eclipse) carry those two; ProKnow and RayStation have none (ProKnow's
earlier bin edge is a tighter goal, kept as data). The variations change no verdict of
the box plans (V45 = 51 or 340 cc, V95% = 95.5 or 82.4 %). Each writer adds what its
format has and dosecheck does not import (a plan-quality index whose definition the
format leaves open) so that the import lists them.
"""

from __future__ import annotations

import json
from pathlib import Path

YAML_SET = """\
name: Rectum long course (reference)
prescription: {dose_gy: 50.4, fractions: 28}
structures:
  - name: Bag_Bowel
    aliases: [BowelBag]
    constraints:
      - V30Gy[cc] < 600
      - V45Gy[cc] < 300 (variation 320)
  - name: PTV
    constraints:
      - V95%[%] >= 95 (variation 93)
      - {metric: "D2%[%]", op: "<=", limit: 107, priority: optimal}
"""

CSV_HEADER = (
    "Structure IDs,Structure Codes,IDAliases,CodeAliases,DVH Objective,Evaluation Point,"
    "Variation,Priority,Met,Achieved"
)
CSV_SET = (
    CSV_HEADER
    + "\n"
    + "Bag_Bowel,7200,BowelBag|Bowel_Bag,,V3000cGy[cc],<600,,1,,\n"
    + "Bag_Bowel,7200,,,V4500cGy[cc],<300,<320,1,,\n"
    + "PTV,,,,V95%[%],>=95,>=93,1,,\n"
    + "PTV,,,,D2%[%],<=107,,2,,\n"
    + "PTV,,,,CI95%[%],<=1.2,,3,,\n"
)


def measure(
    sid: str,
    type_: int,
    modifier: int,
    value: str,
    spec: str | None,
    absolute: bool,
    priority: str | None = "1",
    variation: str | None = None,
    tag: str = "MeasureItem",
    id_as: str = "attr",
) -> str:
    """One MeasureItem (or DoseObjective) element."""
    head = f'<{tag} ID="{sid}">' if id_as == "attr" else f"<{tag}><StructureId>{sid}</StructureId>"
    parts = [
        head,
        f"<Type>{type_}</Type>",
        f"<Modifier>{modifier}</Modifier>",
        f"<Value>{value}</Value>",
        f"<TypeSpecifier>{spec}</TypeSpecifier>"
        if spec is not None
        else '<TypeSpecifier xsi:nil="true" />',
        f"<ReportDQPValueInAbsoluteUnits>{str(absolute).lower()}</ReportDQPValueInAbsoluteUnits>",
    ]
    if priority is not None:
        parts.append(f"<Priority>{priority}</Priority>")
    if variation is not None:
        parts.append(f"<VariationAcceptable>{variation}</VariationAcceptable>")
    parts.append(f"</{tag}>")
    return "".join(parts)


def eclipse_protocol(
    items: str = "", measures: str | None = None, fractions: int = 28, phases: int = 1
) -> str:
    """A Clinical Protocol; default MeasureItems are the rectum protocol."""
    if measures is None:
        measures = (
            measure("Bag_Bowel", 3, 1, "600", "30", True)
            + measure("Bag_Bowel", 3, 1, "300", "45", True, variation="320")
            + measure("PTV", 2, 3, "95", "95", False, variation="93")
            + measure("PTV", 4, 4, "107", "2", False, priority="2")
            + measure("PTV", 0, 0, "0.8", "95", False)
        )
    phase = (
        f'<Phase ID="Phase 1"><FractionCount>{fractions}</FractionCount>'
        "<FractionsPerDay>1</FractionsPerDay>"
        f"<PlanTemplate /><Prescription>{items}{measures}</Prescription></Phase>"
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<Protocol xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" Version="1.0">\n'
        '  <Preview ID="Rectum LC" Type="Protocol" ApprovalStatus="Approved" '
        'TreatmentSite="Rectum" Description="Long course" />\n'
        '  <StructureTemplate ID="Rectum"><Structures /></StructureTemplate>\n'
        f"  <Phases>{phase * phases}</Phases>\n"
        "</Protocol>\n"
    )


def eclipse_goals() -> str:
    """Clinical Goals: absolute volumes in mm³."""
    m = lambda *a, **k: measure(*a, tag="DoseObjective", id_as="child", **k)  # noqa: E731
    body = (
        m("Bag_Bowel", 3, 1, "600000", "30", True)
        + m("Bag_Bowel", 3, 1, "300000", "45", True, variation="320000")
        + m("PTV", 2, 3, "95", "95", False, variation="93")
        + m("PTV", 4, 4, "107", "2", False, priority="2")
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<DoseObjectives xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'ID="Rectum LC goals" PrescribedDose="50.4" FractionCount="28">'
        f"{body}</DoseObjectives>\n"
    )


def proknow_scorecard() -> str:
    """A ProKnow scorecard with ordered objective bins."""

    def up(*edges: float) -> list[dict]:
        bins = [{"label": f"BIN{i}", "color": [0, 0, 0], "max": e} for i, e in enumerate(edges)]
        return [*bins, {"label": "UNACCEPTABLE", "color": [255, 0, 0]}]

    def low(*edges: float) -> list[dict]:
        bins = [{"label": f"BIN{i}", "color": [0, 0, 0], "min": e} for i, e in enumerate(edges)]
        return [*bins, {"label": "UNACCEPTABLE", "color": [255, 0, 0]}]

    doc = {
        "name": "Rectum LC scorecard",
        "computed": [
            {
                "type": "VOLUME_CC_DOSE_ROI",
                "roi_name": "Bag_Bowel",
                "arg_1": 30,
                "arg_2": None,
                "objectives": up(600),
            },
            {
                "type": "VOLUME_CC_DOSE_ROI",
                "roi_name": "Bag_Bowel",
                "arg_1": 45,
                "arg_2": None,
                "objectives": up(250, 300),
            },
            {
                "type": "VOLUME_PERCENT_DOSE_ROI",
                "roi_name": "PTV",
                "arg_1": 47.88,
                "arg_2": None,
                "objectives": low(95),
            },
            {"type": "CONFORMALITY_INDEX", "roi_name": "PTV", "arg_1": 47.88, "arg_2": None},
            {"type": "MAX_DOSE_ROI", "roi_name": "PTV", "arg_1": None, "arg_2": None},
        ],
    }
    return json.dumps(doc, indent=2)


def raystation_goals() -> str:
    """RayStation clinical goals in a scripted protocol XML (cGy, volume fractions)."""

    def goal(roi: str, crit: str, kind: str, level: str, param: str, prio: str = "1") -> str:
        return (
            f"<ClinicalGoal><RoiName>{roi}</RoiName><GoalCriteria>{crit}</GoalCriteria>"
            f"<GoalType>{kind}</GoalType><AcceptanceLevel>{level}</AcceptanceLevel>"
            f"<ParameterValue>{param}</ParameterValue><Priority>{prio}</Priority></ClinicalGoal>"
        )

    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<protocol name="Rectum LC RayStation">'
        "<goals>"
        + goal("Bag_Bowel", "AtMost", "AbsoluteVolumeAtDose", "600", "3000")
        + goal("Bag_Bowel", "AtMost", "AbsoluteVolumeAtDose", "300", "4500")
        + goal("PTV", "AtLeast", "VolumeAtDose", "0.95", "4788")
        + goal("PTV", "AtMost", "HomogeneityIndex", "0.1", "0.98", "3")
        + "</goals></protocol>\n"
    )


def write_all(folder: Path) -> dict[str, Path]:
    """Every format of the protocol in ``folder``: name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "yaml": ("reference.yaml", YAML_SET),
        "varian-csv": ("rectum.csv", CSV_SET),
        "eclipse-protocol": ("rectum_protocol.xml", eclipse_protocol()),
        "eclipse-goals": ("rectum_goals.xml", eclipse_goals()),
        "proknow-scorecard": ("rectum_scorecard.json", proknow_scorecard()),
        "raystation-goals": ("rectum_raystation.xml", raystation_goals()),
    }
    out = {}
    for fmt, (name, text) in files.items():
        p = folder / name
        p.write_text(text, encoding="utf-8")
        out[fmt] = p
    return out
