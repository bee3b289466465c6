"""Config mistakes: each class of mistake gives one line naming its key, exit status 2,
before any work starts (through the real `alakazam run` command)."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
import yaml

from alakazam.engine.config import parse_freq_interval, parse_time_interval


@pytest.mark.parametrize("text, seconds", [("inf", math.inf), ("5min", 300.0), ("120s", 120.0),
                                           (30, 30.0), ("1.5h", 5400.0), ("int", 0.0),
                                           ("45", 45.0)])
def test_time_intervals(text, seconds):
    assert parse_time_interval(text).seconds == seconds


@pytest.mark.parametrize("text, channels, hz", [("full", None, None), (32, 32, None),
                                                ("4MHz", None, 4e6), ("500kHz", None, 5e5),
                                                ("8", 8, None)])
def test_freq_intervals(text, channels, hz):
    f = parse_freq_interval(text)
    assert (f.channels, f.hz) == (channels, hz)


@pytest.mark.parametrize("bad", ["5mni", "-3", "fast", True])
def test_bad_time_intervals(bad):
    with pytest.raises(ValueError):
        parse_time_interval(bad)


def run(config_path, *extra):
    return subprocess.run([sys.executable, "-m", "alakazam", "run", str(config_path), *extra],
                          capture_output=True, text=True, timeout=300)


def write(tmp_path, doc) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return str(path)


def base(ms_path, **overrides):
    block = {"ms": ms_path, "output": "cal.h5", "ref_ant": 0, "jones": ["K", "G"], "field": "3C286",
             "time_interval": ["inf", "60s"]}
    block.update(overrides)
    return {"solve": [block]}


CASES = [
    ("bad time interval", {"time_interval": ["inf", "5mni"]},
     ["solve[0].time_interval[1]: '5mni' is not a time interval"]),
    ("bad freq interval", {"freq_interval": ["full", "4 parsecs"]},
     ["solve[0].freq_interval[1]", "is not a frequency interval"]),
    ("list length", {"phase_only": [False, True, False]},
     ["solve[0].phase_only: has 3 entries but jones has 2 steps"]),
    ("unknown jones", {"jones": ["K", "Q"]}, ["solve[0].jones[1]: 'Q' is not a Jones type"]),
    ("unknown key", {"time_intreval": "inf"}, ["solve[0].time_intreval: unknown key"]),
    ("bad interp", {"preapply_time_interp": ["exact", "spline"]},
     ["solve[0].preapply_time_interp[1]: 'spline' is not one of"]),
    ("bad number", {"max_iter": "many"}, ["solve[0].max_iter: 'many' is not a positive integer"]),
    ("K by channel", {"freq_interval": ["4MHz", "full"]},
     ["solve[0].freq_interval[0]: K solves one delay per SPW"]),
    ("unknown field", {"field": "NGC1234"},
     ["NGC1234", "fields present: 3C286, J1407+2827, TARGET"]),
    ("unknown ref_ant", {"ref_ant": "ea99"}, ["solve[0].ref_ant: 'ea99' is not an antenna"]),
    ("missing column", {"model_col": "MY_MODEL"}, ["column MY_MODEL is not in"]),
    ("unknown spw", {"step_spw": "0~4"}, ["spw 2", "has SPWs 0..1"]),
    ("unknown scan", {"scans": [[99], [1]]}, ["scan 99"]),
    ("same type twice on a field", {"jones": ["G", "G"]},
     ["step 1 (G): field 3C286 already has G solutions from step 0"]),
    ("missing ms", {"ms": "nowhere.ms"}, ["nowhere.ms: no such file or directory"]),
    ("external table missing", {"external_preapply": {"tables": ["prev.h5"], "jones": ["K"]}},
     ["solve[0].external_preapply.tables[0]: prev.h5: no such file"]),
    ("pinned without field", {"external_preapply": {"tables": ["config.yaml"], "jones": ["K"],
                                                    "field_select": ["pinned"]}},
     ["solve[0].external_preapply.solution_field[0]: field_select pinned needs"]),
]


@pytest.mark.parametrize("name, overrides, needles", CASES, ids=[c[0] for c in CASES])
def test_config_mistakes(name, overrides, needles, linear_ms, tmp_path):
    result = run(write(tmp_path, base(linear_ms[0], **overrides)))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0]
    assert not (tmp_path / "cal.h5").exists()


def test_every_problem_is_reported_at_once(linear_ms, tmp_path):
    result = run(write(tmp_path, base(linear_ms[0], time_interval=["inf", "5mni"],
                                      jones=["K", "X"], tol=-1)))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3 and "Traceback" not in result.stderr
    assert any("time_interval[1]" in line for line in lines)
    assert any("jones[1]" in line for line in lines)
    assert any("solve[0].tol" in line for line in lines)


@pytest.mark.parametrize("doc, needle", [
    ("solve: [ms: a", "not valid YAML"),
    ("- just\n- a list\n", "expected a mapping"),
    ("solve:\n  - ms: x.ms\n", "solve[0].output: required key is missing"),
    ("colve: []\n", "colve: unknown top-level key"),
    ("apply:\n  - {ms: x.ms, target_field: '', jones: [G], tables: [g.h5]}\n",
     "apply[0].target_field: '' is not a field name or id"),
    ("apply:\n  - {ms: x.ms, target_field: T, jones: [], tables: []}\n",
     "apply[0].tables: no tables to apply"),
])
def test_malformed_configs(doc, needle, tmp_path):
    result = run(write(tmp_path, doc))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert needle in result.stderr


def test_missing_config_file(tmp_path):
    result = run(tmp_path / "nope.yaml")
    assert result.returncode == 2 and "nope.yaml: no such file" in result.stderr


def test_dry_run_prints_the_plan_and_writes_nothing(linear_ms, tmp_path):
    result = run(write(tmp_path, base(linear_ms[0], field=[["3C286"], ["3C286", "J1407+2827"]])),
                 "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "step 1: G time_interval=60s" in result.stdout
    assert "field J1407+2827: tier 1 (read once, kept in RAM)" in result.stdout
    assert "SPW 1: 60 integrations, 10 time x 1 freq cells" in result.stdout
    assert "predicted peak memory" in result.stdout
    assert not (tmp_path / "cal.h5").exists()


def test_run_and_info(linear_ms, tmp_path):
    cfg = write(tmp_path, base(linear_ms[0], apply_parang=True))
    result = run(cfg)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cal.h5").exists()
    info = subprocess.run([sys.executable, "-m", "alakazam", "info", str(tmp_path / "cal.h5")],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})
    assert info.returncode == 0, info.stderr
    for text in ("3C286", "K (internal step 0", "inf / full", "60s / full"):
        assert text in info.stdout
