"""Faults a hostile user meets (issue 18): each ends with its exit status, one line, and nothing half-written left."""
import json

import pytest

TINY = ["--model", "vae", "--n_train", "500", "--n_hidden", "32", "--PRR", "False", "--interp", "False"]


def one_line(out):
    """The single stderr line of a failed command (asserting there is exactly one, and no traceback)."""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    return lines[0]


@pytest.mark.slow
def test_a_loss_going_nan_stops_the_run_with_status_3_and_no_figure(cli, tmp_path):
    out = cli.main(*TINY, "--PRR", "True", "--num_epochs", "2", "--learn_rate", "1e30", "--results_path", tmp_path,
                   "--run_name", "r")
    assert out.returncode == 3
    assert one_line(out).startswith("error: epoch 1: train_recon is nan")
    left = sorted(p.name for p in (tmp_path / "r").iterdir())
    assert left == ["PRR_input.png", "config.json"]  # no epoch figure, weights, metrics or checkpoint of a broken model


def test_strict_json_never_writes_nan(tmp_path):
    from report.files import write_json
    with pytest.raises(ValueError):
        write_json(tmp_path / "m.json", {"test_neg_elbo": float("nan")})
    assert list(tmp_path.iterdir()) == []
    write_json(tmp_path / "m.json", {"x": 1.5})
    assert json.loads((tmp_path / "m.json").read_text()) == {"x": 1.5}
