"""Draw 10 prior samples of each label 0-9 from a finished run into one 280x280 PNG (row k: label k).

    python examples/api.py RUN_DIR OUT.png

An unconditioned model (vae) fills the 10 rows with samples. The cells are 28x28, with no border, title or gap.
"""
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere: the project's packages
from training.api import RunError, load_run  # noqa: E402


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: python examples/api.py RUN_DIR OUT.png")
    try:
        run = load_run(argv[0])
    except RunError as err:
        sys.exit(f"error: {err}")
    images = run.sample(100, label=np.repeat(np.arange(10), 10), seed=0)  # [100, 28, 28], rows of one label
    grid = images.reshape(10, 10, 28, 28).transpose(0, 2, 1, 3).reshape(280, 280)
    Image.fromarray(np.rint(grid * 255).astype(np.uint8)).save(argv[1])
    print(f"{run.config['model']} run {argv[0]}: 100 samples in {argv[1]}")


if __name__ == "__main__":
    main(sys.argv[1:])
