"""TensorBoard event files of a run in RUN_DIR/tensorboard/: the metrics each epoch, figures as images, and the
Embedding Projector's view of the latent space after the last epoch."""
from pathlib import Path

import numpy as np
from PIL import Image

import tf_setup  # noqa: F401  (quiet TensorFlow import)
import keras
import tensorflow as tf

import plot_utils
from report import figures

LOG_DIR = "tensorboard"
PROJECTOR_N = 3000  # test images in the projector; their sprite is 55 x 55 digits, 1540 pixels square
IMAGES = ("samples", "PRR")  # figures shown as images at each figure epoch: prior samples, reconstructions


def scalar_tag(column):
    """'train_recon' -> 'train/recon', so that TensorBoard groups the terms by split; other columns unchanged."""
    return column.replace("_", "/", 1) if column.startswith(("train_", "test_", "valid_")) else column


class Board:
    """A run's event writer: one Board per training process (a resumed run adds a new event file)."""

    def __init__(self, run_dir):
        self.run_dir = Path(run_dir)
        self.log_dir = self.run_dir / LOG_DIR
        self.writer = tf.summary.create_file_writer(str(self.log_dir))

    def epoch(self, cfg, row, optimizer):
        """Every metrics.csv column of the epoch's row and the learning rate as scalars; at a figure epoch, the
        samples and reconstruction grids it drew as images."""
        epoch = row["epoch"]
        with self.writer.as_default(step=epoch):
            for column, value in row.items():
                if column != "epoch":
                    tf.summary.scalar(scalar_tag(column), value)
            tf.summary.scalar("learning_rate", float(keras.ops.convert_to_numpy(optimizer.learning_rate)))
            if epoch in figures.figure_epochs(cfg):
                for kind in IMAGES:
                    path = self.run_dir / f"{kind}_{figures.epoch_tag(cfg, epoch)}.png"
                    if path.exists():
                        pixels = np.asarray(Image.open(path).convert("L"))
                        tf.summary.image(kind, pixels[None, :, :, None])
        self.writer.flush()

    def projector(self, data, model, n=PROJECTOR_N):
        """The Embedding Projector's files: the encoder means of the first n test images (tensors.tsv), their
        labels (metadata.tsv), a sprite of the digits (sprite.png) and projector_config.pbtxt naming them."""
        from tensorboard.plugins import projector  # only here: the plugin is needed once, after the last epoch
        n = min(n, len(data.x_test))
        z_mean = figures.encode_means(model, data.x_test_in[:n], data.y_test[:n])
        np.savetxt(self.log_dir / "tensors.tsv", z_mean, delimiter="\t", fmt="%.5f")
        labels = np.argmax(data.y_test[:n], axis=1)
        (self.log_dir / "metadata.tsv").write_text("".join(f"{k}\n" for k in labels))  # one column: no header
        side = int(np.ceil(np.sqrt(n)))
        plot_utils.save_grid(self.log_dir / "sprite.png", data.x_test[:n], side, side)
        config = projector.ProjectorConfig()
        embedding = config.embeddings.add()
        embedding.tensor_name = "latent_means"
        embedding.tensor_path, embedding.metadata_path = "tensors.tsv", "metadata.tsv"
        embedding.sprite.image_path = "sprite.png"
        embedding.sprite.single_image_dim.extend([28, 28])
        projector.visualize_embeddings(str(self.log_dir), config)

    def close(self):
        self.writer.close()
