"""Fuzzing plumbing: libFuzzer flags after ``--``, atheris findings keep their bytes, a campaign's corpus replays."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.execute.lifetime import Lifeline
from harness.fuzz.campaign import AtherisHandle, CampaignOptions
from harness.fuzz.worker import WorkerSpec
from harness.generate.decode import decode

ROOT = Path(__file__).resolve().parents[1]


def test_flags_after_dashes_reach_the_worker_command_and_replace_the_harness_defaults(tmp_path: Path) -> None:
    flags = ("-max_len=64", "-only_ascii=1")
    options = CampaignOptions(engine="atheris", out=tmp_path, corpus=tmp_path / "corpus", libfuzzer_flags=flags)
    lifeline = Lifeline()
    try:
        spec = WorkerSpec(index=0, engine="atheris", out=tmp_path, corpus=tmp_path / "scenarios", runs=10)
        command = AtherisHandle(spec, options, lifeline, tmp_path / "corpus", []).command()
    finally:
        lifeline.cut()
    assert command[-2:] == list(flags)
    assert [a for a in command if a.startswith("-max_len=")] == ["-max_len=64"]  # the user's value, once
    assert "-runs=10" in command and any(a.startswith("-dict=") for a in command)


@pytest.mark.parametrize(
    ("words", "named"),
    [
        (["--engine", "atheris", "--", "-dict=x", "-seed=3"], "-dict, -seed"),
        (["--engine", "atheris", "--", "-artifact_prefix=/tmp/"], "-artifact_prefix"),
        (["--engine", "atheris", "--", "max_len=64"], "'max_len=64'"),
        (["--", "-max_len=64"], "--engine atheris"),
    ],
)
def test_flags_the_harness_owns_are_refused_in_one_line(
    words: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "campaign"
    assert main(["fuzz", "--runs", "10", "--out", str(out), *words]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0], err
    assert not out.exists()


def test_a_short_atheris_campaign_with_max_len_and_its_corpus_replays_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("atheris")
    out = tmp_path / "campaign"
    assert (
        main(["fuzz", "--engine", "atheris", "--runs", "200", "--seed", "6", "--out", str(out), "--", "-max_len=64"])
        == 0
    )
    inputs = [p for p in (out / "corpus").iterdir() if p.is_file()]
    assert inputs and all(p.stat().st_size <= 64 for p in inputs)  # libFuzzer took -max_len=64
    assert "-max_len=64" in json.loads((out / "campaign.json").read_text())["command"]
    (out / "corpus" / "not-a-scenario").write_bytes(b"\xff" * 8)  # libFuzzer keeps such inputs too
    undecodable = sum(decode(p.read_bytes()) is None for p in (out / "corpus").iterdir() if p.is_file())
    capsys.readouterr()
    report = tmp_path / "replay"
    assert main(["replay", str(out / "corpus"), "--backend", "raw", "--out", str(report)]) == 0
    err = capsys.readouterr().err
    assert f"scm-harness replay: {undecodable} inputs decode to no scenario (skipped)" in err
    results = json.loads((report / "report.json").read_text())["results"]
    assert results and all(r["verdict"] != "error" for r in results)
    assert len(results) == len(inputs) + 1 - undecodable


def test_an_atheris_finding_keeps_its_raw_input(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    seeds = tmp_path / "bytes"
    shutil.copytree(ROOT / "corpora" / "atheris", seeds)
    for readme in seeds.glob("README*"):
        readme.unlink()
    out = tmp_path / "campaign"
    budget = ["--runs", "300", "--seed", "8", "--no-seeds", "--corpus", str(seeds), "--minimise-seconds", "5"]
    assert main(["fuzz", "--engine", "atheris", *budget, "--out", str(out), "--inject-fault", "swap-fds"]) == 1
    found = json.loads((out / "campaign.json").read_text())["findings"]
    assert found
    for finding in found:
        directory = Path(finding["dir"])
        info = json.loads((directory / "finding.json").read_text())
        data = (directory / "input.bin").read_bytes()
        assert info["input"] == {"file": "input.bin", "size": len(data), "sha1": hashlib.sha1(data).hexdigest()}
        assert decode(data) is not None
