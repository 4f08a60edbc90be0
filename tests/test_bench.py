from llmxai import bench


def test_quick_benchmark_runs_and_reports_ratios(capsys):
    rows = bench.main(["--quick", "--device", "cpu"])
    out = capsys.readouterr().out
    assert rows and all(r["ours_ms"] > 0 and r["torch_ms"] > 0 for r in rows)
    assert "ratio" in out and rows[0]["name"] in out


def test_unknown_section_is_refused(capsys):
    import pytest

    with pytest.raises(SystemExit):
        bench.main(["--only", "nonsense"])
    assert "unknown section" in capsys.readouterr().err
