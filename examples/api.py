"""Draw 10 prior samples of each label 0-9 from a finished run into one 280x280 PNG (row k: label k).

    python examples/api.py RUN_DIR OUT.png

An unconditioned model (vae) fills the 10 rows with samples. The cells are 28x28, with no border, title or gap.
OUT.png must be a new file in an existing folder; it is written whole or not at all.
"""
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere: the project's packages
from runs.files import write_new  # noqa: E402
from runs.stops import exit_status, keep_interrupts, sigterm_interrupts  # noqa: E402
from training.api import RunError, load_run  # noqa: E402


def main(argv):
    if len(argv) != 2:
        return fail("usage: python examples/api.py RUN_DIR OUT.png")
    out = Path(argv[1])
    if out.suffix.lower() != ".png":
        return fail(f"error: {out} must end in .png")
    if not out.parent.is_dir():
        return fail(f"error: {out.parent} is not a folder")
    if out.exists() or out.is_symlink():
        return fail(f"error: {out} exists already (nothing is overwritten)")
    try:
        run = load_run(argv[0])
    except RunError as err:
        return fail(f"error: {err}")
    images = run.sample(100, label=np.repeat(np.arange(10), 10), seed=0)  # [100, 28, 28], rows of one label
    grid = images.reshape(10, 10, 28, 28).transpose(0, 2, 1, 3).reshape(280, 280)
    try:
        write_new(out, lambda f: Image.fromarray(np.rint(grid * 255).astype(np.uint8)).save(f, format="PNG"))
    except OSError as err:
        return fail(f"error: cannot write {out}: {err.strerror}", status=1)
    print(f"{run.config['model']} run {argv[0]}: 100 samples in {out}")
    return 0


def fail(line, status=2):
    print(line, file=sys.stderr)
    return status


if __name__ == "__main__":
    keep_interrupts()
    with sigterm_interrupts():  # Ctrl-C or SIGTERM: the temporary file goes, nothing is half written
        try:
            sys.exit(main(sys.argv[1:]))
        except KeyboardInterrupt as stop:
            print("\ninterrupted; nothing was written", file=sys.stderr)
            sys.exit(exit_status(stop))
