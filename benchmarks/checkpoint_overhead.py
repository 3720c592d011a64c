"""What a checkpoint costs: its size and save/load time for a model, against the epoch time of a real run.

    python benchmarks/checkpoint_overhead.py                 # the default CVAE (dim_z 20, n_hidden 500)
    python benchmarks/checkpoint_overhead.py --epochs 2      # also train 2 full epochs and compare
"""
import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import tf_setup  # noqa: E402,F401
import keras  # noqa: E402

from evaluation.metrics import TERMS  # noqa: E402
from runs import checkpoint  # noqa: E402
from training import flags  # noqa: E402
from runs.folder import RunFolder  # noqa: E402
from training.families import FAMILIES, train_and_evaluate  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20, help="saves and loads timed (default: 20)")
    parser.add_argument("--epochs", type=int, default=0, help="full epochs of a default run to time too (default: 0)")
    args = parser.parse_args()
    cfg = flags.with_flag_defaults({"PRR": False})
    model = FAMILIES[cfg["model"]].build_model(cfg)
    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    with tempfile.TemporaryDirectory() as tmp:
        position = checkpoint.Position(sums=[0.0] * len(TERMS), rows=[{"epoch": e, "test_loss": 100.0} for e in range(20)])
        start = time.perf_counter()
        for _ in range(args.repeats):
            checkpoint.save(tmp, model, optimizer, position)
        save_s = (time.perf_counter() - start) / args.repeats
        start = time.perf_counter()
        for _ in range(args.repeats):
            checkpoint.load(tmp, model, optimizer)
        load_s = (time.perf_counter() - start) / args.repeats
        size = (Path(tmp) / checkpoint.CHECKPOINT).stat().st_size
    print(f"model {cfg['model']} dim_z {cfg['dim_z']} n_hidden {cfg['n_hidden']}: {model.count_params()} weights, "
          f"checkpoint {size / 2**20:.1f} MiB, save {save_s * 1000:.0f} ms, load {load_s * 1000:.0f} ms "
          f"(mean of {args.repeats})")
    if args.epochs:
        with tempfile.TemporaryDirectory() as tmp:
            train_and_evaluate(cfg | {"num_epochs": args.epochs}, RunFolder(tmp))
            seconds = [float(r["seconds"]) for r in csv.DictReader((Path(tmp) / "metrics.csv").open())]
        print(f"seconds per epoch (training and test evaluation, without the checkpoint): {seconds}; "
              f"a checkpoint adds {100 * save_s / min(seconds):.1f}% to the fastest epoch")


if __name__ == "__main__":
    main()
