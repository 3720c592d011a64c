"""--distribute mirrored on two logical CPUs against one device: the same run trained both ways.

    python tests/training/mirrored_check.py OUT_DIR   (the repository root on PYTHONPATH)

Run as a subprocess by tests/training/test_runs.py: the logical devices must be set before TensorFlow starts, so
this cannot share the test process. Prints the two runs' metrics.json as one JSON line: {"none": ..., "mirrored": ...}.
"""
import json
import sys
from pathlib import Path

import tf_setup  # noqa: F401
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from training import flags, mirrored  # noqa: E402  (after the devices are set)
from runs.folder import RunFolder  # noqa: E402
from training.families import train_and_evaluate  # noqa: E402

assert mirrored.make_strategy("mirrored").num_replicas_in_sync == 2
cfg = {k: d for k, (_, d, _) in flags.FLAGS.items()}
cfg |= dict(n_train=1000, batch_size=100, num_epochs=2, n_hidden=32, PRR=False, add_noise=True, seed=1)
out = {}
for name in ("none", "mirrored"):
    (Path(sys.argv[1]) / name).mkdir()
    out[name] = train_and_evaluate(cfg | {"distribute": name}, RunFolder(Path(sys.argv[1]) / name))
print(json.dumps(out))
