"""blocks.utils.profile and the main loop's profile (blocks.config.profile)."""

import io

import pytest

from blocks.extensions import FinishAfter
from blocks.utils.profile import Profile, Timer
from blocks.utils.testing import MockMainLoop


def test_profile_sums_nested_sections_and_reports_depth_first():
    profile = Profile()
    for _ in range(2):
        profile.enter("training")
        profile.enter("read_data")
        profile.exit(0.5)
        profile.enter("train")
        profile.exit(1.0)
        profile.exit(2.0)
    profile.enter("after_training")
    profile.exit(1.0)
    assert profile.total == {("training",): 4.0, ("training", "read_data"): 1.0,
                             ("training", "train"): 2.0, ("after_training",): 1.0}
    out = io.StringIO()
    profile.report(out)
    lines = out.getvalue().splitlines()[2:]
    assert [line.split()[0] for line in lines] == ["training", "read_data", "train",
                                                   "after_training"]
    assert lines[1].startswith("  read_data") and lines[1].endswith("20.00%")
    assert lines[0].endswith("80.00%")


def test_timer_exits_on_error():
    profile = Profile()
    with pytest.raises(ZeroDivisionError):
        with Timer("broken", profile):
            _ = 1 / 0
    assert profile.current == [] and ("broken",) in profile.total


def test_main_loop_profiles_when_configured(monkeypatch, capsys):
    monkeypatch.setenv("BLOCKS_PROFILE", "true")
    main_loop = MockMainLoop(extensions=[FinishAfter(after_n_epochs=2)])
    main_loop.run()
    total = main_loop.profile.total
    for path in [("training",), ("training", "epoch"), ("training", "epoch", "read_data"),
                 ("training", "epoch", "train"), ("training", "epoch", "after_batch"),
                 ("training", "epoch", "after_batch", "FinishAfter"),
                 ("training", "before_training"), ("training", "after_training")]:
        assert path in total, path
    # A section's time includes its subsections'.
    epoch = total[("training", "epoch")]
    parts = [value for path, value in total.items()
             if len(path) == 3 and path[:2] == ("training", "epoch")]
    assert sum(parts) <= epoch <= total[("training",)]
    assert "read_data" in capsys.readouterr().out


def test_main_loop_does_not_print_the_profile_by_default(monkeypatch, capsys):
    # As in Blocks the sections are always timed (Timing reads them); the setting only
    # prints the report.
    monkeypatch.delenv("BLOCKS_PROFILE", raising=False)
    main_loop = MockMainLoop(extensions=[FinishAfter(after_n_epochs=1)])
    main_loop.run()
    assert ("training", "epoch", "train") in main_loop.profile.total
    assert "read_data" not in capsys.readouterr().out
