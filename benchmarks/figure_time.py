"""How much of a run's wall time goes to figures: runs run_main.py and reads metrics.json.

    python benchmarks/figure_time.py                      # the default: --dim_z 2 --PMLR --PARR
    python benchmarks/figure_time.py --model vae --dim_z 2 --PMLR --add_noise
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(flags):
    flags = flags or ["--dim_z", "2", "--PMLR", "--PARR"]
    with tempfile.TemporaryDirectory() as results:
        subprocess.run([sys.executable, str(ROOT / "run_main.py"), *flags, "--results_path", results,
                        "--run_name", "bench"], check=True)
        metrics = json.loads((Path(results) / "bench" / "metrics.json").read_text())
    share = metrics["figure_seconds"] / metrics["wall_seconds"]
    print(f"python run_main.py {' '.join(flags)}: figures {metrics['figure_seconds']:.1f} s of "
          f"{metrics['wall_seconds']:.1f} s wall time ({100 * share:.1f} %)")


if __name__ == "__main__":
    main(sys.argv[1:])
