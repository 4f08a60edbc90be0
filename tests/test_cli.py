import subprocess
import sys

import pytest

from llmxai.cli import main


def test_info_prints_versions(capsys):
    main(["info"])
    out = capsys.readouterr().out
    assert "llmxai" in out and "torch" in out and "device" in out


def test_export_writes_student_copies(tmp_path, capsys):
    main(["lessons", "export", "--src", "lessons", "--out", str(tmp_path)])
    written = sorted(p.name for p in tmp_path.glob("*.ipynb"))
    assert written and "01_attention.ipynb" in written


def test_export_from_empty_folder_fails_clearly(tmp_path):
    with pytest.raises(SystemExit, match="no lesson notebooks"):
        main(["lessons", "export", "--src", str(tmp_path), "--out", str(tmp_path / "out")])


def test_module_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "llmxai.cli", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "lessons" in done.stdout
