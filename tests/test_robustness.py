"""The robustness command: it names the failing assertion, catches numpy glue, and refuses bad configurations."""

import nbformat
import pytest

from llmxai import robustness


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_a_failing_assertion_is_named_and_numpy_glue_is_caught(tmp_path):
    bad = _notebook(tmp_path / "bad.ipynb", "x = 1", "assert x > 2, 'x too small'")
    glued = _notebook(tmp_path / "glued.ipynb", "import numpy as np\nfrom myst_nb import glue\n"
                                               "glue('g', np.float64(0.5), display=False)")
    good = _notebook(tmp_path / "good.ipynb", "import os\nassert os.environ['ATEN_CPU_CAPABILITY'] == 'default'")
    results = robustness.execute([bad, glued, good], "default", jobs=2)
    assert [r["ok"] for r in results] == [False, False, True]
    assert results[0]["error"] == "AssertionError: x too small" and "assert x > 2" in results[0]["line"]
    assert "glue stores a numpy repr" in results[1]["error"] and "['g']" in results[1]["error"]
    text = robustness.table({"default": results})
    assert "bad [default]: AssertionError: x too small" in text and "FAIL" in text


def test_configurations_and_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="expected one of"):
        robustness.config_env("avx9", tmp_path)
    assert robustness.config_env("seed2", tmp_path)["LLMXAI_SEED_OFFSET"] == "2"
    with pytest.raises(ValueError, match="expected .ipynb files"):
        robustness.execute([tmp_path / "missing.ipynb"])
    with pytest.raises(SystemExit):
        robustness.main(["--configs", "nope"])
