"""Train the MNIST classifier that scores generated digits: python -m tools.classifier [--out PATH]."""
import argparse
import sys
import time
from pathlib import Path

from evaluation.classifier import DEFAULT_PATH, ENV_VAR, EPOCHS, accuracy, default_path, save_classifier, train_classifier


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.classifier", description="Train the MNIST classifier that scores generated digits.")
    parser.add_argument("--out", default=None, help=f"weights file (default: ${ENV_VAR} or {DEFAULT_PATH})")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"training epochs (default: {EPOCHS})")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--force", action="store_true", help="retrain even if the weights file exists")
    args = parser.parse_args(argv)
    path = Path(args.out) if args.out else default_path()
    if path.exists() and not args.force:
        parser.exit(2, f"{parser.prog}: error: {path} exists already; pass --force to retrain it\n")
    if args.epochs <= 0:
        parser.exit(2, f"{parser.prog}: error: --epochs must be positive, got {args.epochs}\n")

    from data.mnist import load_mnist
    from data.prepare import prepare
    (x_train, y_train), (x_test, y_test) = load_mnist()
    start = time.time()
    model = train_classifier(prepare(x_train, y_train)[0], y_train, args.epochs, args.seed,
                             verbose=2 if sys.stdout.isatty() else 0)
    acc = accuracy(model, prepare(x_test, y_test)[0], y_test)
    save_classifier(model, path, {"test_accuracy": acc, "epochs": args.epochs, "seed": args.seed,
                                  "train_seconds": round(time.time() - start, 1)})
    print(f"test accuracy {acc:.4f} on 10000 test images after {args.epochs} epochs "
          f"({time.time() - start:.0f}s); weights in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
