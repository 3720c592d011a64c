"""Compare trained runs on the same test images: input, (noisy input,) and each run's reconstructions side by side.

    python -m tools.compare_runs results/cvae_z2_... results/vae_z2_... [--out compare.png]
"""
import json
import sys
from pathlib import Path

from training.flags import Parser


def parse_args(argv=None):
    parser = Parser(prog="python -m tools.compare_runs", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="finished run folders; the first gives the test inputs")
    parser.add_argument("--out", default=None,
                        help="PNG to write; must not exist (default: compare_<run>_vs_<run>.png beside the first run)")
    parser.add_argument("--n_img_x", type=int, default=10, help="images along x in each block (default: 10)")
    parser.add_argument("--n_img_y", type=int, default=10, help="images along y in each block (default: 10)")
    parser.add_argument("--resize_factor", type=float, default=1.0, help="resize factor of each image (default: 1.0)")
    args = parser.parse_args(argv)
    if min(args.n_img_x, args.n_img_y, args.resize_factor) <= 0:
        parser.error("argument --n_img_x/--n_img_y/--resize_factor: must be positive")
    runs = [Path(r) for r in args.runs]
    for run in runs:
        missing = [f for f in ("config.json", "model.weights.h5") if not (run / f).is_file()]
        if missing:
            parser.error(f"argument RUN_DIR: {run} is not a finished run folder (no {', '.join(missing)})")
    noise = {json.loads((run / "config.json").read_text())["add_noise"] for run in runs}
    if len(noise) > 1:
        parser.error("argument RUN_DIR: the runs differ in --add_noise; compare denoisers with denoisers")
    args.out = Path(args.out) if args.out else runs[0].parent / f"compare_{'_vs_'.join(r.name for r in runs)}.png"
    if args.out.exists():
        parser.error(f"argument --out: {args.out} exists already (nothing is overwritten)")
    args.runs = runs
    return args


def main(argv=None):
    args = parse_args(argv)
    # TensorFlow loads only here, once the arguments are known to be good.
    from data.prepare import load_run_data
    from report import figures
    from training.families import load_trained_model

    loaded = [(run.name, *load_trained_model(run)) for run in args.runs]
    data = load_run_data(loaded[0][1])  # the first run's fixed (noisy) test inputs are fed to every model
    image = figures.comparison_panel(loaded, data, args.n_img_x, args.n_img_y, args.resize_factor)
    with open(args.out, "xb") as f:  # "x": never overwrite, even a file made since the check above
        image.save(f, format="PNG")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
