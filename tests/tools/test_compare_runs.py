"""python -m tools.compare_runs: two runs' reconstructions of the same test inputs side by side."""
import json
import shutil

import numpy as np
import pytest
from PIL import Image

import plot_utils


@pytest.mark.slow
def test_compare_runs_draws_both_models_on_the_same_inputs_and_never_overwrites(finished_run, cli, tmp_path):
    run_dir = finished_run
    out_png = tmp_path / "cmp.png"
    args = [run_dir, run_dir, "--n_img_x", "3", "--n_img_y", "2", "--out", out_png]
    first = cli.tool("compare_runs", *args, timeout=300)
    assert first.returncode == 0, first.stderr
    # input, noisy input (the runs are denoisers), and the two runs' reconstructions
    assert Image.open(out_png).size == (4 * 3 * 28 + 3 * plot_utils.GAP, plot_utils.HEADER + 2 * 28)
    image = np.asarray(Image.open(out_png), np.float32)
    third, fourth = [image[plot_utils.HEADER:, k * (84 + plot_utils.GAP):k * (84 + plot_utils.GAP) + 84] for k in (2, 3)]
    np.testing.assert_array_equal(third, fourth)  # the same model on the same inputs
    before = out_png.read_bytes()
    again = cli.tool("compare_runs", *args, timeout=300)
    assert again.returncode == 2 and "exists already" in again.stderr
    assert out_png.read_bytes() == before


@pytest.mark.slow
def test_compare_runs_refuses_a_denoiser_beside_a_plain_model_before_loading_tensorflow(finished_run, cli, tmp_path):
    run_dir = finished_run
    plain = tmp_path / "plain"
    shutil.copytree(run_dir, plain)
    cfg = json.loads((run_dir / "config.json").read_text()) | {"add_noise": False}
    (plain / "config.json").write_text(json.dumps(cfg))
    (plain / "manifest.json").unlink()  # as a run from before manifests (its config changed by hand)
    code = ("import sys\nfrom tools import compare_runs\ntry:\n    compare_runs.main(sys.argv[1:])\n"
            "except SystemExit as e:\n    print(e.code, 'tensorflow' in sys.modules)\n")
    out = cli.python("-c", code, run_dir, plain)
    assert out.stdout.split() == ["2", "False"] and "--add_noise" in out.stderr
    assert out.stderr.startswith("python -m tools.compare_runs: error: ")
