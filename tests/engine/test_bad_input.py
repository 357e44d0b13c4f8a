"""Damaged and hostile flow files: located errors for that file alone, never a crash or a hang.

One test per crash seen in issue 8, then a generated corpus and a property-based fuzz.
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from o2g_flows._yaml import Limits
from o2g_flows.cli import main
from o2g_flows.engine import load_flows, load_text
from o2g_flows.engine.loader import LoadResult

GOOD = "flow: good\non: OnCallCreated\ndo:\n  - answer: {}\n"
LOCATED = re.compile(r"[^:]+:\d+:\d+: \S")


def errors(text: str, **limits: int) -> list[str]:
    return [str(e) for e in load_text(text, "f.yaml", limits=Limits(**limits)).errors]


def located(result: LoadResult) -> bool:
    return all(LOCATED.match(str(error)) and error.location.line >= 1 for error in result.errors)


def test_yaml_syntax_errors_are_rewritten_for_people():
    text = "flow: x\nstates:\n  a:\n    on:\n      OnCallRemoved: {goto: end}\n   after: 2\n"
    assert errors(text) == [
        "f.yaml:6:4: this line is not lined up with the keys of its block (opened at line 3): "
        "it is indented 3 spaces; indent it by 2 spaces like line 3 or by 4 spaces like line 4"
    ]
    assert errors("flow: x\non: OnCallCreated\ndo:\n  - log: a\n   - log: b\n") == [
        "f.yaml:5:4: this line is not lined up with the list items above it (opened at line 4): "
        "give each item '- ' at the same indentation, and nothing else at that level"
    ]
    assert errors("flow: x\n  on: OnCallCreated\n") == [
        "f.yaml:2:5: a ':' here starts a key where none can be: either this line is indented "
        "deeper than the keys above it, or a value holding ': ' needs quotes"
    ]
    assert errors("flow: x\ndescription: `quoted`\n") == [
        "f.yaml:2:14: a value cannot start with '`' in YAML; put the value in quotes"
    ]
    assert errors("flow: x\ndo:\n\t- log: a\n") == [
        "f.yaml:3:1: a tab in the indentation; YAML indents with spaces only"
    ]


def test_control_characters_are_located_errors():
    for char, code in (("\x00", "U+0000"), ("\x0b", "U+000B"), ("\x7f", "U+007F")):
        assert errors(f"flow: x\non: OnCallCreated\ndo: [log: 'a{char}b']\n") == [
            f"f.yaml:3:13: control character {code} is not allowed in YAML; remove it "
            f'(inside double quotes, write it as "\\u{ord(char):04x}")'
        ]


def test_deep_yaml_nesting_is_refused_at_the_limit():
    text = "flow: x\nvars:\n  a: " + "[" * 250 + "]" * 250 + "\n"
    assert errors(text) == ["f.yaml:3:68: nested deeper than 64 levels (max_depth)"]


def test_deep_block_nesting_is_refused_too():
    lines = [f"{' ' * i}k{i}:" for i in range(250)]
    (error,) = errors("\n".join(lines) + " 1\n")
    assert error.endswith("nested deeper than 64 levels (max_depth)")


def test_five_hundred_parentheses_in_when_are_a_located_error():
    when = "(" * 500 + "event.a" + ")" * 500
    assert errors(f'flow: x\non: OnCallCreated\nwhen: "{when}"\ndo: [answer]\n') == [
        "f.yaml:3:40: bad expression: the expression nests brackets (or repeats !) deeper than "
        "32 levels (max_expression_nesting)"
    ]


def test_five_hundred_chained_ors_are_a_located_error():
    when = " || ".join(["event.a"] * 500)
    (error,) = errors(f'flow: x\non: OnCallCreated\nwhen: "{when}"\ndo: [answer]\n')
    assert error.startswith("f.yaml:3:8: bad expression: the expression is 5,496 characters")
    when = "||".join(["a"] * 300)
    assert errors(f'flow: x\non: OnCallCreated\nwhen: "{when}"\ndo: [answer]\n') == [
        "f.yaml:3:8: bad expression: the expression has more than 64 levels "
        "(max_expression_levels); split it with set: or several conditions"
    ]


def test_a_recursive_alias_is_refused():
    assert errors("flow: x\nvars:\n  a: &v [1, *v]\n") == [
        "f.yaml:3:13: alias *v is used inside its own anchor &v"
    ]


def test_odd_tags_and_merge_keys_are_errors():
    text = """\
flow: x
enabled: !!bool maybe
on: OnCallCreated
do:
  - set: !!omap [{a: 1}]
  - set:
      <<: {b: 2}
"""
    assert errors(text) == [
        "f.yaml:2:10: !!bool takes true or false, not 'maybe'",
        "f.yaml:2:10: enabled must be true or false",
        "f.yaml:5:10: the tag !!omap is not supported on a mapping or list; remove it",
        "f.yaml:5:10: set takes a mapping of arguments, not a list",
        "f.yaml:7:7: merge keys (<<) are not supported; write the keys out",
    ]


def test_billion_laughs_stops_at_the_alias_limit():
    lines = ["flow: x", "vars:", "  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 9):
        refs = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"  l{level}: &l{level} [{refs}]")
    text = "\n".join(lines) + "\n"
    assert len(text.encode()) < 700
    (error,) = errors(text)
    assert error.endswith("aliases expand to more than 10,000 values (max_alias_values)")


def test_size_limit_and_non_utf8_and_empty_files(tmp_path: Path):
    (tmp_path / "big.yaml").write_text(GOOD + "description: " + "x" * 2000 + "\n")
    (tmp_path / "latin1.yaml").write_bytes(b"flow: x\ndescription: caf\xe9\n")
    (tmp_path / "empty.yaml").write_text("")
    result = load_flows([tmp_path], limits=Limits(max_bytes=1000))
    assert result.report().splitlines() == [
        f"{tmp_path / 'big.yaml'}:1:1: the file is 2,062 bytes, over the limit of 1,000 bytes "
        "(max_bytes); split it into several files",
        f"{tmp_path / 'empty.yaml'}:1:1: empty file (a flow starts with flow: NAME)",
        f"{tmp_path / 'latin1.yaml'}:2:17: byte 0xe9 is not UTF-8 text; save the file as UTF-8",
    ]


def test_a_broken_file_never_stops_the_good_ones(tmp_path: Path, capsys):
    (tmp_path / "a-good.yaml").write_text(GOOD)
    (tmp_path / "b-bad.yaml").write_text("flow: bad\nvars:\n  a: &v [1, *v]\n")
    (tmp_path / "c-good.yaml").write_text(GOOD.replace("good", "other"))
    result = load_flows([tmp_path])
    assert [flow.name for flow in result.flows] == ["good", "other"]
    assert [str(e) for e in result.errors] == [
        f"{tmp_path / 'b-bad.yaml'}:3:13: alias *v is used inside its own anchor &v"
    ]
    assert main(["validate", str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "2 flow(s) valid, 1 error(s) in 3 file(s)"


# -- a generated corpus of damaged files ----------------------------------------------------------

VALID = """\
flow: sample
users: [alice]
key: event.callRef
vars: {n: 1, who: bob}
start:
  on: OnCallCreated
  when: "event.legs[0].state == 'RINGING_INCOMING'"
  goto: ringing
states:
  ringing:
    after: {seconds: 5, goto: end}
    on:
      OnCallRemoved: {goto: end}
    enter:
      - log: "call ${key} for ${vars.who}"
      - redirect: {to: "2001"}
        on_error: continue
"""


def corpus() -> list[str]:
    """Damaged variants of a valid flow, of the kinds the issue lists."""
    texts = ["", "\n", "# nothing\n", "---\n", "...\n", "- a\n- b\n", "just text\n"]
    for char in "\x00\x01\x0b\x0c\x1b\x7f\x85\ufeff\ufffe\t\r":
        texts += [VALID.replace("ringing:", f"ring{char}ing:"), char + VALID]
    texts += [VALID[:cut] for cut in range(0, len(VALID), 7)]
    texts += [VALID.replace("  ", " ", n) for n in (1, 3, 8)]
    texts += [VALID.replace(":", "", n) for n in (1, 4)]
    texts += [VALID.replace("{", "[", 1), VALID.replace("]", "", 1), VALID.replace('"', "", 1)]
    texts += ["a: " + "[" * n + "]" * n + "\n" for n in (63, 64, 65, 2000)]
    texts += ["a: " + "{b: " * 300 + "1" + "}" * 300 + "\n"]
    texts += [VALID + "x: &a [*a]\n", VALID + "x: *nowhere\n", "&a a: *a\n"]
    texts += [VALID + f"extra: !!{tag} x\n" for tag in ("binary", "timestamp", "set", "omap")]
    texts += [VALID + "extra: !!python/object:os.system x\n", VALID + "extra: !custom 1\n"]
    texts += [VALID + "? [a, b]\n: 1\n", VALID + "<<: *x\n", VALID + "flow: again\n"]
    texts += [VALID.replace("5", "x" * 200_000), VALID + "description: " + "y" * 500_000 + "\n"]
    texts += [VALID.replace("when: ", "when: " + "!" * 400), VALID + "---\nflow: two\n"]
    texts += [
        "flow: x\non: OnCallCreated\nwhen: '" + "(" * 40 + "a" + ")" * 40 + "'\ndo: [answer]\n"
    ]
    return texts


def test_a_generated_corpus_of_damaged_files_gives_located_errors_only(tmp_path: Path):
    texts = corpus()
    for index, text in enumerate(texts):
        (tmp_path / f"f{index:03}.yaml").write_text(text, "utf-8", errors="surrogatepass")
    (tmp_path / "zz-bytes.yaml").write_bytes(b"\xff\xfeflow: x\n\x80\x81")
    result = load_flows([tmp_path])
    assert located(result)
    failed = {error.location.file for error in result.errors}
    assert len(failed) >= len(texts) - 3  # a few cuts of the valid flow are still valid


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                [
                    ":",
                    "- ",
                    "  ",
                    "\n",
                    "[",
                    "]",
                    "{",
                    "}",
                    "&a ",
                    "*a",
                    "!!",
                    "!",
                    "<<: ",
                    "'",
                    '"',
                    "${",
                    "}",
                    "|",
                    ">",
                    "#",
                    "---",
                    "flow: f\n",
                    "on: OnCallCreated\n",
                    "do:\n",
                    "  - answer: {}\n",
                    "when: ",
                    "event.a",
                    " || ",
                    "(",
                    ")",
                    "?",
                    ",",
                ]
            ),
            st.text(max_size=6),
        ),
        max_size=60,
    )
)
def test_fuzzed_text_never_crashes_and_every_error_is_located(parts: list[str]):
    result = load_text("".join(parts), "fuzz.yaml")
    assert located(result)
    assert result.flows or result.errors


def test_run_reports_a_broken_file_and_runs_the_good_ones(tmp_path: Path, capsys):
    (tmp_path / "good.yaml").write_text(GOOD)
    laughs = "".join(f"  l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 9))
    (tmp_path / "laughs.yaml").write_text("flow: x\nvars:\n  l0: &l0 [a, a, a]\n" + laughs)
    assert main(["run", str(tmp_path), "--no-traffic", "--no-reload", "--duration", "0.3"]) == 0
    err = capsys.readouterr().err
    assert "laughs.yaml:" in err and "(max_alias_values)" in err
    assert "no valid flow to run" not in err


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(
        ["OnCallCreated", "OnCallModified", "OnCallRemoved", "OnAgentStateChanged"]
    ),
    fields=st.dictionaries(
        st.sampled_from(
            [
                "callRef",
                "loginName",
                "legs",
                "participants",
                "addedLegs",
                "modifiedLegs",
                "removedLegs",
                "callData",
                "state",
            ]
        ),
        _json,
    ),
)
def test_the_recording_gateway_keeps_its_view_through_damaged_events(name, fields):
    from o2g_flows.engine import RecordingGateway

    gateway = RecordingGateway()
    gateway.observe({"eventName": "OnCallCreated", "callRef": "c1", "legs": [{"deviceId": "1"}]})
    gateway.observe({"eventName": name, "callRef": "c1", **fields})  # never raises
    for call in gateway.calls.values():
        assert all(isinstance(leg, dict) for leg in call["legs"])
