"""Compare trained runs on the same test images: input, (noisy input,) and each run's reconstructions side by side.

    python -m tools.compare_runs results/cvae_z2_... results/vae_z2_... [--out compare.png]
"""
import os
import sys
from pathlib import Path

from runs.errors import RunError
from runs.files import write_new
from runs.folder import RunFolder
from tools.cli import check_bounds, run_tool
from training.flags import Parser

PROG = "python -m tools.compare_runs"
BOUNDS = {"n_img_x": (1, 50), "n_img_y": (1, 50), "resize_factor": (0.1, 5.0)}  # as the run's own figures
MAX_RUNS = 10
PIXELS = 20_000_000  # the image's budget: about 20 megapixels, as every figure of a run


def parse_args(argv=None):
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR",
                        help=f"finished run folders, up to {MAX_RUNS}; the first gives the test inputs")
    parser.add_argument("--out", default=None,
                        help="PNG to write; must not exist (default: compare_<run>_vs_<run>.png beside the first run)")
    parser.add_argument("--n_img_x", type=int, default=10, help="images along x in each block, 1 to 50 (default: 10)")
    parser.add_argument("--n_img_y", type=int, default=10, help="images along y in each block, 1 to 50 (default: 10)")
    parser.add_argument("--resize_factor", type=float, default=1.0,
                        help="resize factor of each image, 0.1 to 5 (default: 1.0)")
    args = parser.parse_args(argv)
    check_bounds(parser, args, BOUNDS)
    if len(args.runs) > MAX_RUNS:
        parser.error(f"argument RUN_DIR: at most {MAX_RUNS} runs side by side, got {len(args.runs)}")
    runs = [RunFolder(r) for r in args.runs]
    noise = set()
    try:
        for run in runs:
            run.expect("finished")
            noise.add(bool(run.config()["add_noise"]))
            if run.problem("model.weights.h5"):
                raise RunError(run.problem("model.weights.h5"))
    except RunError as err:
        parser.error(f"argument RUN_DIR: {err}")
    if len(noise) > 1:
        parser.error("argument RUN_DIR: the runs differ in --add_noise; compare denoisers with denoisers")
    side = 28 * args.resize_factor
    blocks = 1 + bool(noise.pop()) + len(runs)
    if blocks * args.n_img_x * args.n_img_y * side * side > PIXELS:
        parser.error(f"the figure would exceed {PIXELS / 1e6:g} megapixels; lower --n_img_x, --n_img_y or "
                     "--resize_factor, or compare fewer runs")
    if args.out is None:
        name = f"compare_{'_vs_'.join(run.path.name for run in runs)}.png"
        if len(name.encode()) > os.pathconf(runs[0].path.parent, "PC_NAME_MAX"):
            parser.error(f"argument --out: the default name of {len(name)} characters is too long for a file name; "
                         "give --out")
        args.out = runs[0].path.parent / name
    args.out = Path(args.out)
    if args.out.exists() or args.out.is_symlink():
        parser.error(f"argument --out: {args.out} exists already (nothing is overwritten)")
    if not args.out.parent.is_dir():
        parser.error(f"argument --out: {args.out.parent} is not a folder")
    args.runs = [run.path for run in runs]
    return args


def compare(argv):
    args = parse_args(argv)
    # TensorFlow loads only here, once the arguments are known to be good.
    from data.prepare import load_run_data
    from report import figures
    from training.families import load_trained_model

    loaded = [(run.name, *load_trained_model(run)) for run in args.runs]
    data = load_run_data(loaded[0][1])  # the first run's fixed (noisy) test inputs are fed to every model
    image = figures.comparison_panel(loaded, data, args.n_img_x, args.n_img_y, args.resize_factor)
    write_new(args.out, lambda f: image.save(f, format="PNG"))  # whole or not at all, never over a file
    print(f"wrote {args.out}")
    return 0


def main(argv=None):
    return run_tool(compare, argv, PROG, interrupted="no figure was written")


if __name__ == "__main__":
    sys.exit(main())
