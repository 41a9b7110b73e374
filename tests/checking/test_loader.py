"""Loading constraint-set YAML: the format and every error message (file and line)."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest

from dosecheck.checking.loader import MAX_BYTES, load_constraint_set, load_constraint_set_text
from dosecheck.checking.model import ConstraintSet
from dosecheck.errors import ConstraintFileError
from dosecheck.metrics import ACCEPTED_FORMS, parse_metric

P = "sets/test.yaml"

MINIMAL = """\
name: Rectum long course 50.4 Gy in 28 fractions
prescription: {dose_gy: 50.4, fractions: 28}
structures:
  - name: Bag_Bowel
    aliases: [BowelBag, Bowel_Bag, Bowel cavity]
    constraints:
      - V30Gy[cc] < 600
      - V45Gy[cc] < 300
"""


def load(text: str) -> ConstraintSet:
    return load_constraint_set_text(textwrap.dedent(text), path=P)


def error(text: str) -> str:
    with pytest.raises(ConstraintFileError) as exc:
        load(text)
    return str(exc.value)


def expect(text: str, line: int, message: str) -> None:
    """The error is exactly ``P:line: message``."""
    assert error(text) == f"{P}:{line}: {message}"


def struct(constraint_lines: str, header: str = MINIMAL.split("structures:")[0]) -> str:
    """A set with one structure whose constraints are ``constraint_lines`` (from line 6)."""
    body = textwrap.indent(textwrap.dedent(constraint_lines), "      ")
    return f"{header}structures:\n  - name: Rectum\n    constraints:\n{body}"


# --- the format ------------------------------------------------------------------------------
def test_minimal_example() -> None:
    cs = load(MINIMAL)
    assert cs.name == "Rectum long course 50.4 Gy in 28 fractions"
    assert cs.path == P
    assert (cs.prescription_gy, cs.fractions) == (50.4, 28)
    assert cs.source == cs.description == cs.version == ""
    assert cs.sha256 == hashlib.sha256(MINIMAL.encode()).hexdigest()
    (s,) = cs.structures
    assert (s.name, s.aliases, s.regex, s.line) == (
        "Bag_Bowel",
        ("BowelBag", "Bowel_Bag", "Bowel cavity"),
        None,
        4,
    )
    c1, c2 = s.constraints
    assert c1.metric == parse_metric("V30Gy[cc]")
    assert (c1.comparator, c1.limit, c1.limit_unit_is_percent_rx) == ("<", 600.0, False)
    assert (c1.priority, c1.note, c1.reference, c1.line, c1.text) == (
        "mandatory",
        "",
        "",
        7,
        "V30Gy[cc] < 600",
    )
    assert c2.line == 8
    assert cs.constraints == [(s, c1), (s, c2)]


def test_full_example() -> None:
    cs = load(
        """\
        name: Full
        source: QUANTEC
        description: every feature
        version: 1.0
        prescription:
          dose_gy: 50
        structures:
          - name: PTV_High
            regex: 'PTV_?5\\d(\\.\\d)?'
            constraints:
              - D95%[Gy] >= 95%
              - Max[Gy] <= 107%
              - Max[%] <= 107%
              - Max[cGy]<=5350cGy
              - V47.5Gy[%]>=95
              - metric: D0.03cc[Gy]
                comparator: "<="
                limit: 53.5
                priority: optimal
                note: hot spot
                reference: RTOG 0822
              - {metric: "V95%[cc]", op: ">", limit: "10 cc"}
              - {metric: "V20Gy[%]", op: "<", limit: 30%}
        """
    )
    assert (cs.source, cs.description, cs.version) == ("QUANTEC", "every feature", "1.0")
    assert (cs.prescription_gy, cs.fractions) == (50.0, None)
    (s,) = cs.structures
    assert s.regex == r"PTV_?5\d(\.\d)?"
    c = s.constraints
    assert [x.line for x in c] == [11, 12, 13, 14, 15, 16, 22, 23]
    assert (c[0].comparator, c[0].limit, c[0].limit_unit_is_percent_rx) == (">=", 95.0, True)
    assert c[0].limit_in_metric_unit(50.0) == pytest.approx(47.5)
    assert c[1].limit_unit_is_percent_rx and c[1].limit == 107.0
    assert not c[2].limit_unit_is_percent_rx  # Max[%] is already in % of prescription
    assert (c[3].limit, c[3].limit_unit_is_percent_rx, c[3].text) == (
        5350.0,
        False,
        "Max[cGy]<=5350cGy",
    )
    assert (c[4].comparator, c[4].limit) == (">=", 95.0)
    assert (c[5].priority, c[5].note, c[5].reference, c[5].limit) == (
        "optimal",
        "hot spot",
        "RTOG 0822",
        53.5,
    )
    assert c[5].text == "D0.03cc[Gy] <= 53.5"
    assert (c[6].comparator, c[6].limit, c[6].text) == (">", 10.0, "V95%[cc] > 10 cc")
    assert (c[7].limit, c[7].limit_unit_is_percent_rx) == (30.0, False)


def test_load_from_file_with_bom(tmp_path: Path) -> None:
    f = tmp_path / "set.yaml"
    data = b"\xef\xbb\xbf" + MINIMAL.encode()
    f.write_bytes(data)
    cs = load_constraint_set(f)
    assert cs.path == str(f)
    assert cs.sha256 == hashlib.sha256(data).hexdigest()
    assert cs.structures[0].constraints[1].line == 8


def test_priority_defaults_to_mandatory_and_versions_are_text() -> None:
    cs = load(MINIMAL.replace("name: Rect", "version: 2024-05-01\nname: Rect"))
    assert cs.version == "2024-05-01"
    assert all(c.priority == "mandatory" for _, c in cs.constraints)


# --- files -----------------------------------------------------------------------------------
def test_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "nope.yaml"
    with pytest.raises(ConstraintFileError) as exc:
        load_constraint_set(f)
    assert str(exc.value) == f"{f}: no such constraint-set file"


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ConstraintFileError) as exc:
        load_constraint_set(tmp_path)
    assert str(exc.value) == f"{tmp_path}: is a directory, not a constraint-set file"


def test_too_big_file_is_refused_unparsed(tmp_path: Path) -> None:
    f = tmp_path / "big.yaml"
    f.write_bytes(b"[" * (MAX_BYTES + 1))  # would be a YAML error if parsed
    with pytest.raises(ConstraintFileError) as exc:
        load_constraint_set(f)
    assert str(exc.value) == (
        f"{f}: file is {MAX_BYTES + 1} bytes; constraint sets larger than 1 MB "
        f"({MAX_BYTES} bytes) are refused"
    )


def test_too_big_text() -> None:
    with pytest.raises(ConstraintFileError, match=r"^big: file is 1000001 bytes"):
        load_constraint_set_text("#" * (MAX_BYTES + 1), path="big")


def test_not_utf8(tmp_path: Path) -> None:
    f = tmp_path / "latin1.yaml"
    f.write_bytes(MINIMAL.encode().replace(b"Bowel cavity", "Bowel cavité".encode("latin-1")))
    with pytest.raises(ConstraintFileError) as exc:
        load_constraint_set(f)
    assert str(exc.value).startswith(f"{f}:5: not UTF-8 text (byte ")
    assert str(exc.value).endswith("); save the file as UTF-8")


# --- YAML ------------------------------------------------------------------------------------
def test_yaml_syntax_error() -> None:
    expect(
        "name: x\nstructures:\n  - name: [a\n",
        4,
        "invalid YAML: expected ',' or ']', but got '<stream end>'",
    )


def test_flow_list_of_metrics_hint() -> None:
    expect(
        "name: x\nstructures:\n  - name: R\n    constraints: [V50Gy[%] < 50]\n",
        4,
        "invalid YAML: found character '%' that cannot start any token; metrics contain "
        "brackets, so inside a [...] list quote each constraint, e.g. ['V50Gy[%] < 50'], "
        "or write one '- ' item per line",
    )


def test_quoted_flow_list_is_fine() -> None:
    cs = load("name: x\nstructures:\n  - name: R\n    constraints: ['V50Gy[%] < 50']\n")
    assert cs.structures[0].constraints[0].text == "V50Gy[%] < 50"


def test_two_documents() -> None:
    assert error(MINIMAL + "---\nname: y\n").startswith(f"{P}:9: invalid YAML: ")


def test_empty_file() -> None:
    expect(
        "# nothing\n",
        1,
        "the file is empty; expected a mapping with keys name, structures and optionally "
        "prescription, source, description, version",
    )


@pytest.mark.parametrize(
    ("yaml", "line", "shown"),
    [
        ("name: x\nstructures: !!python/object/apply:os.system ['echo pwned']\n", 2,
         "!!python/object/apply:os.system"),
        ("name: !!python/name:os.system\nstructures: []\n", 1, "!!python/name:os.system"),
        ("name: x\nsource: !!binary aGVsbG8=\nstructures: []\n", 2, "!!binary"),
        ("name: !custom x\nstructures: []\n", 1, "!custom"),
        ("name: x\nstructures: !!set {a: null}\n", 2, "!!set"),
    ],
)  # fmt: skip
def test_tags_are_refused(yaml: str, line: int, shown: str, capfd: pytest.CaptureFixture) -> None:
    expect(
        yaml,
        line,
        f"the YAML tag {shown!r} is not allowed: constraint sets hold only text, numbers, "
        "lists and mappings",
    )
    assert "pwned" not in capfd.readouterr().out


def test_anchors_and_aliases_are_refused() -> None:
    expect(
        struct("- &c V30Gy[cc] < 600\n- *c\n"),
        6,
        "YAML anchors and aliases (&c, *c) are not allowed in constraint sets; write each "
        "value out",
    )


def test_first_anchor_in_file_is_reported() -> None:
    expect(
        "name: &a x\nsource: &b y\nstructures: [*a]\n",
        1,
        "YAML anchors and aliases (&a, *a) are not allowed in constraint sets; write each "
        "value out",
    )


def test_merge_keys_are_refused() -> None:
    expect(
        struct("- {<<: {metric: 'Mean[Gy]'}, op: <, limit: 3}\n"),
        6,
        "merge keys (<<) are not allowed: constraint sets hold only text, numbers, lists "
        "and mappings",
    )


# --- top level ---------------------------------------------------------------------------
def test_top_level_not_a_mapping() -> None:
    expect("- a\n- b\n", 1, "the constraint set must be a mapping (key: value), not a list")


def test_unknown_top_level_key_with_suggestion() -> None:
    expect(
        MINIMAL.replace("structures:", "structure:"),
        3,
        "unknown key 'structure' in the constraint set (did you mean 'structures'?); expected "
        "keys: name, prescription, structures, source, description, version",
    )


def test_unknown_top_level_key_without_suggestion() -> None:
    expect(
        MINIMAL + "zzz: 1\n",
        9,
        "unknown key 'zzz' in the constraint set; expected keys: name, prescription, "
        "structures, source, description, version",
    )


def test_duplicate_key() -> None:
    expect(
        MINIMAL + "name: again\n",
        9,
        "duplicate key 'name' in the constraint set (first at line 1)",
    )


def test_non_text_key() -> None:
    expect(MINIMAL + "1: x\n", 9, "keys of the constraint set must be text, not '1'")


def test_missing_name() -> None:
    expect(MINIMAL.split("\n", 1)[1], 1, "the constraint set is missing the key 'name'")


def test_missing_structures() -> None:
    expect("name: x\n", 1, "the constraint set is missing the key 'structures'")


@pytest.mark.parametrize(
    ("value", "shown"),
    [("[a, b]", "a list"), ("{a: 1}", "a mapping"), ("", "nothing"), ("true", "the boolean true")],
)
def test_name_wrong_type(value: str, shown: str) -> None:
    expect(MINIMAL.replace("name: Rectum long course 50.4 Gy in 28 fractions", f"name: {value}"),
           1, f"name must be text, not {shown}")  # fmt: skip


def test_empty_name() -> None:
    expect(MINIMAL.replace("name: Rectum long course 50.4 Gy in 28 fractions", "name: ''"),
           1, "name must not be empty")  # fmt: skip


# --- prescription ------------------------------------------------------------------------
def rx(value: str) -> str:
    return MINIMAL.replace("{dose_gy: 50.4, fractions: 28}", value)


def test_prescription_not_a_mapping() -> None:
    expect(rx("50.4"), 2, "prescription must be a mapping (key: value), not '50.4'")


def test_prescription_missing_dose() -> None:
    expect(rx("{fractions: 28}"), 2, "prescription is missing the key 'dose_gy'")


def test_prescription_unknown_key() -> None:
    expect(
        rx("{dose_gy: 50.4, fraction: 28}"),
        2,
        "unknown key 'fraction' in prescription (did you mean 'fractions'?); expected keys: "
        "dose_gy, fractions",
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{dose_gy: '50.4'}", "prescription dose_gy must be a number, not the text '50.4'"),
        ("{dose_gy: 50.4Gy}", "prescription dose_gy must be a number, not the text '50.4Gy'"),
        ("{dose_gy: -1}", "prescription dose_gy must be a positive number, not -1"),
        ("{dose_gy: 0}", "prescription dose_gy must be a positive number, not 0"),
        ("{dose_gy: .inf}", "prescription dose_gy must be a positive number, not .inf"),
        (
            "{dose_gy: 50.4, fractions: 28.0}",
            "prescription fractions must be a whole number, not '28.0'",
        ),
        (
            "{dose_gy: 50.4, fractions: 0}",
            "prescription fractions must be a positive number, not 0",
        ),
    ],
)
def test_prescription_values(value: str, message: str) -> None:
    expect(rx(value), 2, message)


# --- structures --------------------------------------------------------------------------
def test_structures_not_a_list() -> None:
    expect(
        "name: x\nstructures: {Rectum: 1}\n",
        2,
        "structures must be a list, e.g. 'structures: [{name: Rectum, constraints: [...]}]'; "
        "not a mapping",
    )


def test_structures_empty() -> None:
    expect("name: x\nstructures: []\n", 2, "structures is empty; list at least one structure")


def test_structure_not_a_mapping() -> None:
    expect(
        "name: x\nstructures:\n  - Rectum\n",
        3,
        "a structure must be a mapping (key: value), not the text 'Rectum'",
    )


def test_structure_missing_name() -> None:
    expect(
        "name: x\nstructures:\n  - constraints: ['Mean[Gy] < 3']\n",
        3,
        "a structure is missing the key 'name'",
    )


def test_structure_missing_constraints() -> None:
    expect("name: x\nstructures:\n  - name: R\n", 3, "a structure is missing the key 'constraints'")


def test_structure_unknown_key() -> None:
    expect(
        MINIMAL.replace("    aliases:", "    alias:"),
        5,
        "unknown key 'alias' in a structure (did you mean 'aliases'?); expected keys: name, "
        "aliases, regex, constraints",
    )


def test_structure_name_without_letters() -> None:
    expect(MINIMAL.replace("- name: Bag_Bowel", "- name: '_ -'"), 4,
           "structure name '_ -' has no letters or digits")  # fmt: skip


def test_aliases_not_a_list() -> None:
    expect(
        MINIMAL.replace("[BowelBag, Bowel_Bag, Bowel cavity]", "BowelBag"),
        5,
        "aliases of structure 'Bag_Bowel' must be a list, e.g. [BowelBag, Bowel_Bag]; not "
        "the text 'BowelBag'",
    )


def test_alias_not_text() -> None:
    expect(
        MINIMAL.replace("[BowelBag, Bowel_Bag, Bowel cavity]", "[BowelBag, [x]]"),
        5,
        "an alias of structure 'Bag_Bowel' must be text, not a list",
    )


def test_alias_empty() -> None:
    expect(
        MINIMAL.replace("[BowelBag, Bowel_Bag, Bowel cavity]", "[BowelBag, '']"),
        5,
        "an alias of structure 'Bag_Bowel' must not be empty",
    )


def test_bad_regex() -> None:
    expect(
        MINIMAL.replace("    aliases: [BowelBag, Bowel_Bag, Bowel cavity]", "    regex: 'bowel('"),
        5,
        "invalid regex 'bowel(' of structure 'Bag_Bowel': missing ), unterminated subpattern "
        "at position 5",
    )


def test_constraints_not_a_list() -> None:
    expect(
        "name: x\nstructures:\n  - name: R\n    constraints: V30Gy[cc] < 600\n",
        4,
        "constraints of structure 'R' must be a list, e.g. ['V30Gy[cc] < 600']; not the "
        "text 'V30Gy[cc] < 600'",
    )


def test_constraints_empty() -> None:
    expect(
        "name: x\nstructures:\n  - name: R\n    constraints: []\n",
        4,
        "structure 'R' has no constraints; list at least one",
    )


def test_duplicate_structure_names() -> None:
    expect(
        MINIMAL + "  - name: bag bowel\n    constraints: ['Mean[Gy] < 30']\n",
        9,
        "duplicate structure 'bag bowel' (same name as 'Bag_Bowel' at line 4, ignoring case, "
        "spaces, '_' and '-'); merge their constraints into one entry",
    )


# --- constraint strings ------------------------------------------------------------------
FORM = (
    "'<metric> <comparator> <limit>', e.g. 'V30Gy[cc] < 600', 'D95%[Gy] >= 47.88' or "
    "'Max[Gy] <= 107%'"
)


def test_constraint_without_comparator() -> None:
    expect(
        struct("- V30Gy[cc] 600\n"),
        6,
        f"constraint 'V30Gy[cc] 600' of structure 'Rectum' has no comparator; expected {FORM}",
    )


def test_constraint_with_two_comparators() -> None:
    expect(
        struct("- 10 < Mean[Gy] < 20\n"),
        6,
        "constraint '10 < Mean[Gy] < 20' of structure 'Rectum' has more than one comparator "
        f"(<, <); expected {FORM}",
    )


@pytest.mark.parametrize(
    ("op", "hint"),
    [
        ("=", " (an exact equality is not a constraint)"),
        ("==", " (an exact equality is not a constraint)"),
        ("=<", "; did you mean '<='?"),
        ("=>", "; did you mean '>='?"),
        ("≤", "; write '<='"),
        ("≥", "; write '>='"),
        ("!=", ""),
        ("<<", ""),
    ],
)
def test_bad_comparator(op: str, hint: str) -> None:
    expect(
        struct(f"- 'Mean[Gy] {op} 20'\n"),
        6,
        f"unknown comparator {op!r}{hint}; expected one of <, <=, >, >=",
    )


def test_constraint_without_metric() -> None:
    expect(
        struct("- '< 20'\n"),
        6,
        f"constraint '< 20' of structure 'Rectum' has no metric; expected {FORM}",
    )


def test_constraint_without_limit() -> None:
    expect(
        struct("- 'Mean[Gy] <'\n"),
        6,
        f"constraint 'Mean[Gy] <' of structure 'Rectum' has no limit; expected {FORM}",
    )


def test_unknown_metric() -> None:
    expect(
        struct("- Dmax[Gy] < 20\n"),
        6,
        f"invalid DVH metric 'Dmax[Gy]': write Max[Gy] for the max dose; {ACCEPTED_FORMS}",
    )


def test_metric_case() -> None:
    msg = error(struct("- v20gy[%] < 20\n"))
    assert msg.startswith(f"{P}:6: invalid DVH metric 'v20gy[%]': letters and units are ")
    assert "did you mean 'V20Gy[%]'?" in msg


@pytest.mark.parametrize(
    ("constraint", "message"),
    [
        (
            "V30Gy[cc] < abc",
            "invalid limit 'abc' for V30Gy[cc]: expected a number >= 0, optionally followed "
            "by the metric's unit or, for a dose metric, % of prescription (e.g. 600, 600cc, "
            "45Gy, 107%)",
        ),
        ("V30Gy[cc] < -5", "invalid limit '-5' for V30Gy[cc]: expected a number >= 0"),
        ("V30Gy[cc] < 1e3", "invalid limit '1e3' for V30Gy[cc]: expected a number >= 0"),
        (
            "V30Gy[cc] < 50%",
            "the limit '50%' is a percentage but V30Gy[cc] gives cc; write V30Gy[%] with a "
            "limit in % of the structure volume, or give the limit in cc",
        ),
        (
            "D95%[Gy] > 4750cGy",
            "the limit '4750cGy' is in cGy but D95%[Gy] gives Gy; write the limit in Gy or as "
            "% of prescription",
        ),
        (
            "V30Gy[%] < 20cc",
            "the limit '20cc' is in cc but V30Gy[%] gives %; write the limit in %",
        ),
        ("V30Gy[cc] < " + "9" * 400, "the limit " + "9" * 400 + " is too large"),
    ],
)
def test_bad_limits(constraint: str, message: str) -> None:
    msg = error(struct(f"- '{constraint}'\n"))
    assert msg.startswith(f"{P}:6: {message}")


def test_percent_of_prescription_metric_without_prescription() -> None:
    header = "name: No Rx\n"
    expect(
        struct("- V95%[%] >= 98\n", header=header),
        5,
        "'V95%[%] >= 98' uses a dose in % of prescription but the constraint set has no "
        "prescription; add 'prescription: {dose_gy: ..., fractions: ...}' at the top level",
    )


def test_percent_of_prescription_limit_without_prescription() -> None:
    expect(
        struct("- Mean[Gy] < 20\n- Max[Gy] <= 107%\n", header="name: No Rx\n"),
        6,
        "'Max[Gy] <= 107%' uses a limit in % of prescription but the constraint set has no "
        "prescription; add 'prescription: {dose_gy: ..., fractions: ...}' at the top level",
    )


def test_percent_metric_and_limit_without_prescription() -> None:
    msg = error(struct("- {metric: 'Max[%]', op: '<', limit: 107%}\n", header="name: x\n"))
    assert msg.startswith(f"{P}:5: 'Max[%] < 107%' uses a dose in % of prescription but")


# --- constraint mappings -------------------------------------------------------------------
def test_constraint_neither_string_nor_mapping() -> None:
    expect(
        struct("- [Mean, <, 600]\n"),
        6,
        f"a constraint of structure 'Rectum' must be a string {FORM} or a mapping with keys "
        "metric, comparator (or op), limit and optionally priority, note, reference; not a "
        "list",
    )


def test_constraint_number() -> None:
    assert error(struct("- 600\n")).endswith("reference; not '600'")


def test_constraint_mapping_unknown_key() -> None:
    expect(
        struct("- {metric: 'Mean[Gy]', op: <, limit: 20, priorty: optimal}\n"),
        6,
        "unknown key 'priorty' in a constraint of structure 'Rectum' (did you mean "
        "'priority'?); expected keys: metric, comparator, op, limit, priority, note, reference",
    )


def test_constraint_mapping_missing_metric() -> None:
    expect(
        struct("- {op: <, limit: 20}\n"),
        6,
        "a constraint of structure 'Rectum' is missing the key 'metric'",
    )


def test_constraint_mapping_missing_limit() -> None:
    expect(
        struct("- {metric: 'Mean[Gy]', op: <}\n"),
        6,
        "a constraint of structure 'Rectum' is missing the key 'limit'",
    )


def test_constraint_mapping_missing_comparator() -> None:
    expect(
        struct("- {metric: 'Mean[Gy]', limit: 20}\n"),
        6,
        "a constraint of structure 'Rectum' is missing the key 'comparator' (or 'op')",
    )


def test_constraint_mapping_both_comparator_and_op() -> None:
    expect(
        struct("- metric: Mean[Gy]\n  comparator: <\n  op: <\n  limit: 20\n"),
        8,
        "give either comparator or op, not both",
    )


def test_constraint_mapping_bad_priority() -> None:
    expect(
        struct("- metric: Mean[Gy]\n  op: <\n  limit: 20\n  priority: high\n"),
        9,
        "priority must be 'mandatory' or 'optimal', not 'high'",
    )


def test_constraint_mapping_bad_metric_points_at_metric_line() -> None:
    msg = error(struct("- op: <\n  limit: 20\n  metric: Mean(Gy)\n"))
    assert msg.startswith(f"{P}:8: invalid DVH metric 'Mean(Gy)'")


def test_constraint_mapping_bad_comparator() -> None:
    expect(
        struct("- metric: Mean[Gy]\n  op: lt\n  limit: 20\n"),
        7,
        "unknown comparator 'lt'; expected one of <, <=, >, >=",
    )


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        ("-3", "the limit must be a number >= 0, not -3"),
        (".nan", "the limit must be a number >= 0, not .nan"),
        ("true", "the limit must be a number >= 0 (e.g. 600, '45Gy', 107%), not the boolean true"),
        ("[1]", "the limit must be a number >= 0 (e.g. 600, '45Gy', 107%), not a list"),
        ("", "the limit must be a number >= 0 (e.g. 600, '45Gy', 107%), not nothing"),
    ],
)
def test_constraint_mapping_bad_limit(limit: str, message: str) -> None:
    expect(struct(f"- metric: Mean[Gy]\n  op: <\n  limit: {limit}\n"), 8, message)
