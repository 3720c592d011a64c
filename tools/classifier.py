"""Train the MNIST classifier that scores generated digits: python -m tools.classifier [--out PATH]."""
import sys
import time
from pathlib import Path

from evaluation.classifier import DEFAULT_PATH, ENV_VAR, EPOCHS, accuracy, default_path, save_classifier, train_classifier
from runs.stops import deferred
from tools.cli import check_bounds, run_tool
from training.flags import Parser

PROG = "python -m tools.classifier"
BOUNDS = {"epochs": (1, 1000), "seed": (0, 2 ** 31 - 1)}


def train(argv):
    parser = Parser(prog=PROG, description="Train the MNIST classifier that scores generated digits.")
    parser.add_argument("--out", default=None, help=f"weights file (default: ${ENV_VAR} or {DEFAULT_PATH})")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"training epochs, 1 to 1000 (default: {EPOCHS})")
    parser.add_argument("--seed", type=int, default=0, help="random seed, 0 to 2^31 - 1 (default: 0)")
    parser.add_argument("--force", action="store_true", help="retrain even if the weights file exists")
    args = parser.parse_args(argv)
    check_bounds(parser, args, BOUNDS)
    path = Path(args.out) if args.out else default_path()
    if (path.exists() or path.is_symlink()) and not args.force:
        parser.error(f"{path} exists already; pass --force to retrain it")
    if not path.name.endswith(".weights.h5"):
        parser.error(f"argument --out: Keras needs a name ending in .weights.h5, got {path.name}")

    from data.mnist import load_mnist
    from data.prepare import prepare
    (x_train, y_train), (x_test, y_test) = load_mnist()
    start = time.time()
    model = train_classifier(prepare(x_train, y_train)[0], y_train, args.epochs, args.seed,
                             verbose=2 if sys.stdout.isatty() else 0)
    acc = accuracy(model, prepare(x_test, y_test)[0], y_test)
    with deferred():  # a stop waits for the weights to be saved whole
        save_classifier(model, path, {"test_accuracy": acc, "epochs": args.epochs, "seed": args.seed,
                                      "train_seconds": round(time.time() - start, 1)})
    print(f"test accuracy {acc:.4f} on 10000 test images after {args.epochs} epochs "
          f"({time.time() - start:.0f}s); weights in {path}")
    return 0


def main(argv=None):
    return run_tool(train, argv, PROG, interrupted="no weights were written")


if __name__ == "__main__":
    sys.exit(main())
