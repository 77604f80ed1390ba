"""Editing the flow from the console: a text is checked as `ivr check` checks the file and
saved only when it and every scenario pass; each save is a version with who saved it and
when; versions compare as a diff, and an earlier one is restored through the same check."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest

from agi.application import Application
from agi.console.editing import DiffRow, FlowEditor, Mark, Saving, as_saved, diff_rows
from agi.storage.flow_versions import FlowVersions, text_digest
from tests.conftest import ROOT
from tests.console_client import line_of

BREAKS_TWO_ZONE = (
    '"1": {next: pick_resource, set: {resource: electricity}}',
    '"1": {next: pick_resource, set: {resource: hot_water}}',
)
"""Every rule passes; only the two-zone scenario can tell (as in test_scenarios)."""
NEW_COMMENT = (
    "  window_closed:\n",
    "  # said outside the days readings are taken\n  window_closed:\n",
)


@pytest.fixture
def editor(editable: Application) -> FlowEditor:
    shutil.copy(ROOT / "ivr_scenarios.yaml", editable.settings.flow_path.parent)
    versions = FlowVersions(editable.repository.engine)
    return FlowEditor(editable.settings, versions)


def edited(editor: FlowEditor, old: str, new: str) -> str:
    text = editor.current()
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("change", "file", "at", "words"),
    [
        pytest.param(
            ("next: ask_contract", "next: ask_contrct"),
            "ivr_flows.yaml",
            "next: ask_contrct",
            "did you mean 'ask_contract'",
            id="dangling-target",
        ),
        pytest.param(
            ("  window_closed:\n", "  window_closed:\n   bad: [\n"),
            "ivr_flows.yaml",
            "bad: [",
            "the [ opened on this line is not closed by ]",
            id="yaml-syntax",
        ),
        pytest.param(
            BREAKS_TWO_ZONE,
            "ivr_scenarios.yaml",
            "- hears: [enter_reading, zone_day]",
            "scenario 'seed two-zone electricity, day then night', step 4",
            id="a-scenario-breaks",
        ),
    ],
)
def test_a_broken_text_is_refused_with_its_file_and_line(editor, change, file, at, words) -> None:
    before = editor.current()
    text = edited(editor, *change)

    saved = editor.save(text, "anna", opened=text_digest(before))

    assert saved.result is Saving.REFUSED
    assert saved.check is not None and saved.check.problems
    problem = saved.check.problems[0]
    assert problem.file.name == file and problem.file.parent == editor.path.parent
    shown = (
        (editor.path.parent / file).read_text(encoding="utf-8")
        if file != "ivr_flows.yaml"
        else text
    )
    assert problem.line is not None
    assert problem.line == line_of(shown, at), str(problem)
    assert words in str(problem)
    assert editor.current() == before
    assert editor.versions.all() == []


def test_a_good_text_is_saved_whole_and_kept_with_who_and_when(editor) -> None:
    before = editor.current()
    wanted = edited(editor, *NEW_COMMENT)
    text = wanted.replace("\n", "\r\n")  # as a browser sends a text area

    check = editor.check(text)
    assert (check.passed, check.scenarios) == (True, 14)
    assert check.nodes > 10
    saved = editor.save(text, "anna", opened=text_digest(before))

    assert saved.result is Saving.SAVED
    assert editor.current() == as_saved(text) == wanted
    history = editor.history()
    assert [(v.saved_by, v.restored_from) for v in history] == [("anna", None), (None, None)]
    assert history[1].text == before  # the file as found, before the first save
    assert (datetime.now(tz=UTC) - history[0].saved_at).total_seconds() < 60
    assert Application(editor.settings).read_menu()[0].nodes  # the server reads it as well


def test_a_save_over_someone_elses_is_refused_and_an_equal_one_is_no_version(editor) -> None:
    opened = text_digest(editor.current())
    first = editor.save(edited(editor, *NEW_COMMENT), "anna", opened=opened)
    assert first.result is Saving.SAVED

    late = editor.save(editor.current() + "# boris\n", "boris", opened=opened)
    same = editor.save(editor.current(), "boris", opened=text_digest(editor.current()))

    assert late.result is Saving.STALE and "# boris" not in editor.current()
    assert same.result is Saving.UNCHANGED
    assert len(editor.history()) == 2


def test_an_earlier_version_is_restored_as_a_new_one(editor) -> None:
    original = editor.current()
    editor.save(edited(editor, *NEW_COMMENT), "anna", opened=None)
    first = editor.history()[-1]

    restored = editor.restore(first, "boris", opened=text_digest(editor.current()))

    assert restored.result is Saving.SAVED
    assert editor.current() == original
    newest = editor.history()[0]
    assert (newest.saved_by, newest.restored_from, newest.text) == ("boris", first.number, original)


def test_a_file_changed_outside_the_console_is_a_version_of_its_own(editor) -> None:
    editor.save(edited(editor, *NEW_COMMENT), "anna", opened=None)
    editor.path.write_text(editor.current() + "# by hand\n", encoding="utf-8")

    history = editor.history()

    assert [v.saved_by for v in history] == [None, "anna", None]
    assert history[0].text.endswith("# by hand\n")


def test_a_restore_goes_through_the_check(editor) -> None:
    editor.versions.add("version: 1\nnodes: {}\n", "someone")
    broken = editor.versions.latest()
    assert broken is not None
    before = editor.current()

    refused = editor.restore(broken, "anna", opened=None)

    assert refused.result is Saving.REFUSED
    assert editor.current() == before


@pytest.mark.parametrize(
    ("old", "new", "rows"),
    [
        ("a\nb\n", "a\nb\n", []),
        (
            "a\nb\nc\n",
            "a\nB\nc\n",
            [
                DiffRow(Mark.SAME, 1, 1, "a"),
                DiffRow(Mark.REMOVED, 2, None, "b"),
                DiffRow(Mark.ADDED, None, 2, "B"),
                DiffRow(Mark.SAME, 3, 3, "c"),
            ],
        ),
        (
            "1\n2\n3\n4\n5\n6\n7\n",
            "1\n2\n3\n4\n5\n6\n7\n8\n",
            [DiffRow(Mark.GAP, None, None, "")]
            + [DiffRow(Mark.SAME, n, n, str(n)) for n in (5, 6, 7)]
            + [DiffRow(Mark.ADDED, None, 8, "8")],
        ),
        (
            "x\n1\n2\n3\n4\n5\n",
            "1\n2\n3\n4\n5\n",
            [DiffRow(Mark.REMOVED, 1, None, "x")]
            + [DiffRow(Mark.SAME, n + 1, n, str(n)) for n in (1, 2, 3)]
            + [DiffRow(Mark.GAP, None, None, "")],
        ),
        ("", "<script>\n", [DiffRow(Mark.ADDED, None, 1, "<script>")]),
    ],
)
def test_two_texts_compare_line_by_line(old, new, rows) -> None:
    assert diff_rows(old, new) == rows


def test_versions_are_kept_in_the_database(repository) -> None:
    versions = FlowVersions(repository.engine)
    first = versions.add("version: 1\n", "anna")
    second = versions.add("version: 2\n", None, restored_from=first.number)

    assert versions.latest() == second
    assert versions.get(first.number) == first
    assert versions.get(second.number + 1) is None
    assert [v.number for v in versions.all()] == [second.number, first.number]
    assert second.digest == text_digest("version: 2\n")
    assert second.saved_at.tzinfo is not None
