"""What a run feeds its model: the binarized test and training sets, and the validation images held out."""
import numpy as np

from data.prepare import RunData, hold_out, load_run_data
from training.flags import with_flag_defaults

# Every flag at its default (binarize none, data_dir None) but these.
CFG = with_flag_defaults({"n_train": 500, "seed": 0, "dim_z": 2, "add_noise": False, "noise_prob": 0.5})


def test_binarized_test_set_is_one_fixed_draw_and_static_binarizes_training_once():
    grey = load_run_data(CFG | {"binarize": "none"})
    dyn0, dyn1 = load_run_data(CFG | {"binarize": "dynamic"}), load_run_data(CFG | {"binarize": "dynamic", "seed": 1})
    assert set(np.unique(dyn0.x_test)) == {0.0, 1.0}
    np.testing.assert_array_equal(dyn0.x_test, dyn1.x_test)  # the same test set whatever the run's seed
    assert abs(dyn0.x_test.mean() - grey.x_test.mean()) < 0.002  # Bernoulli draws with the grey levels as means
    np.testing.assert_array_equal(dyn0.x_train, grey.x_train)  # dynamic: the training images stay grey until used
    st0, st1 = load_run_data(CFG | {"binarize": "static"}), load_run_data(CFG | {"binarize": "static", "seed": 1})
    assert set(np.unique(st0.x_train)) == {0.0, 1.0} and not np.array_equal(st0.x_train, st1.x_train)


def test_validation_images_are_held_out_of_training():
    x, y = np.arange(10, dtype=np.float32)[:, None], np.eye(10, dtype=np.float32)
    data = RunData(x, y, x[:2], y[:2], x[:2], x[:2])
    assert hold_out(data, 0) is None and len(data.x_train) == 10
    x_valid, y_valid = hold_out(data, 3)
    assert data.x_train[:, 0].tolist() == list(range(7)) and x_valid[:, 0].tolist() == [7, 8, 9]
    np.testing.assert_array_equal(np.argmax(y_valid, 1), [7, 8, 9])
    assert len(data.y_train) == 7
    # With --binarize dynamic, the validation images are one fixed binary draw, as the test images are.
    def grey():
        return RunData(np.full((50, 4), 0.5, np.float32), np.eye(10, dtype=np.float32)[np.arange(50) % 10], *[x[:2]] * 4)
    x_bin, _ = hold_out(grey(), 20, "dynamic")
    assert set(np.unique(x_bin)) == {0.0, 1.0}
    np.testing.assert_array_equal(x_bin, hold_out(grey(), 20, "dynamic")[0])
    assert set(np.unique(hold_out(grey(), 20)[0])) == {0.5}
