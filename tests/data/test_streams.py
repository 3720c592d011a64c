"""Every numpy random stream of a run is its own: no two of a run's keys draw the same numbers, for any --seed."""
import numpy as np
import pytest

from data import streams
from training.flags import parse_args

SEEDS = (0, 1, 2, 5, 99, 100, 151, 152, 600, 1000, 5000, 9998, 9999)
EPOCHS = 120  # more epochs than --n_labeled 10 and 100, so that an epoch's key could meet the labelled subset's
N_LABELED = (10, 100, 600)
FIRST = 4  # numbers drawn from each stream


def first_numbers(key):
    return tuple(np.random.default_rng(key).integers(0, 2**62, FIRST).tolist())


def coincidences(keys):
    """The groups of stream names (sorted) whose keys start the same stream, by drawing from each."""
    by_draw = {}
    for name, key in keys.items():
        by_draw.setdefault(first_numbers(key), []).append(name)
    return sorted(tuple(sorted(names)) for names in by_draw.values() if len(names) > 1)


def test_the_check_finds_keys_that_seed_one_stream():
    # SeedSequence pads a key with zeros: 5, [5] and [5, 0] start the same stream; [0, 5] does not.
    assert coincidences({"a": 5, "b": [5, 0], "c": [5], "d": [0, 5], "e": 6}) == [("a", "b", "c")]


def test_the_check_finds_the_coincidences_of_the_old_streams(monkeypatch):
    """figure_z was seed + 20000, the test set's binarization at --seed 151; labelled_subset [seed, n_labeled],
    epoch n_labeled's batch order. The check must catch both, or its passing says nothing."""
    monkeypatch.setattr(streams, "figure_z", lambda seed: seed + 20_000)
    monkeypatch.setattr(streams, "labelled_subset", lambda seed, n_labeled: [seed, n_labeled])
    assert coincidences(streams.numpy_keys(151, EPOCHS, 600)) == [("figure_z", "test_binarization")]
    assert coincidences(streams.numpy_keys(3, EPOCHS, 100)) == [("epoch_order_100", "labelled_subset")]
    assert coincidences(streams.numpy_keys(3, EPOCHS, 600)) == []


@pytest.mark.parametrize("n_labeled", N_LABELED)
@pytest.mark.parametrize("seed", SEEDS)
def test_no_two_streams_of_a_run_draw_the_same_numbers(seed, n_labeled):
    keys = streams.numpy_keys(seed, EPOCHS, n_labeled)
    expected = {"test_inputs", "test_binarization", "valid_binarization", "static_binarization", "quality",
                "quality_generated", "labelled_subset", "figure_z", "labelled_order_0", "api_samples",
                "figure_samples", "figure_walk", "figure_tsne"}
    expected |= {f"{kind}_{epoch}" for kind in ("epoch_order", "labelled_order") for epoch in range(1, EPOCHS + 1)}
    assert expected <= set(keys) and {f"quality_noise_{i}" for i in range(3)} <= set(keys)
    assert coincidences(keys) == []


@pytest.mark.parametrize("seed", ["-1", "10000", "20151"])
def test_seed_outside_0_to_9999_exits_2(seed, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(["--seed", seed])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("run_main.py: error: argument --seed") and "0..9999" in err[0]
    assert streams.SEED_LIMIT == 10_000
    assert parse_args(["--seed", "0"]).seed == 0 and parse_args(["--seed", "9999"]).seed == 9999
