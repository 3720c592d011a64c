"""A run's TensorBoard events, read back with TensorBoard's own reader: every metrics.csv column and the learning
rate per epoch, the figures as images, and the Embedding Projector's files."""
import csv

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from report.tensorboard import LOG_DIR, PROJECTOR_N, scalar_tag


@pytest.mark.slow
def test_events_hold_the_metrics_the_figures_and_the_projector(finished_run):
    log_dir = finished_run / LOG_DIR
    events = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    events.Reload()
    rows = list(csv.DictReader((finished_run / "metrics.csv").open()))
    value = lambda event: tf.make_ndarray(event.tensor_proto)  # noqa: E731
    for column in rows[0]:
        if column != "epoch":
            logged = events.Tensors(scalar_tag(column))
            assert [e.step for e in logged] == [1, 2]
            np.testing.assert_allclose([value(e) for e in logged], [float(r[column]) for r in rows], rtol=1e-6)
    assert [float(value(e)) for e in events.Tensors("learning_rate")] == pytest.approx([1e-3, 1e-3])
    for kind, name in (("samples", "samples_epoch_02.png"), ("PRR", "PRR_epoch_02.png")):
        logged = events.Tensors(kind)
        assert [e.step for e in logged] == [1, 2]  # the figure epochs of a 2-epoch run
        width, height, png = value(logged[-1])
        assert (int(width), int(height)) == Image.open(finished_run / name).size
        assert np.array_equal(tf.io.decode_png(png).numpy()[..., 0], np.asarray(Image.open(finished_run / name)))

    config = (log_dir / "projector_config.pbtxt").read_text()
    for name in ("tensors.tsv", "metadata.tsv", "sprite.png"):
        assert f'"{name}"' in config and (log_dir / name).is_file()
    means = np.loadtxt(log_dir / "tensors.tsv", delimiter="\t")
    labels = (log_dir / "metadata.tsv").read_text().split()
    assert means.shape == (PROJECTOR_N, 2) and len(labels) == PROJECTOR_N and set(labels) == set("0123456789")
    assert Image.open(log_dir / "sprite.png").size == (55 * 28, 55 * 28)  # the sprite's cells: ceil(sqrt(3000))
