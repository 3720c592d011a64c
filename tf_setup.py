"""Import TensorFlow and Keras without the C++ runtime's log lines a user did not ask for: the oneDNN and CUDA
start-up chatter, and the failed cuInit of a machine with CUDA libraries but no usable GPU. A user who sets
TF_CPP_MIN_LOG_LEVEL themselves gets what they asked for, and no line is hidden from them."""
import os
import signal
import threading

CHOSEN_HERE = "VAE_MNIST_QUIET_TENSORFLOW"  # set beside the level this module chose, for the processes it starts
ASKED = "TF_CPP_MIN_LOG_LEVEL" in os.environ and CHOSEN_HERE not in os.environ  # the user chose what to see
if not ASKED:
    os.environ |= {"TF_CPP_MIN_LOG_LEVEL": "3", CHOSEN_HERE: "1"}
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
GPUS = []  # the physical GPUs TensorFlow found


def _import_quietly():
    # TensorFlow's C++ runtime writes to file descriptor 2 before absl logging is configured, so
    # TF_CPP_MIN_LOG_LEVEL alone does not silence it: fd 2 points at /dev/null during the import and during the
    # first look for GPUs, which is when the CUDA driver is initialised (and a failed cuInit is logged).
    # Ctrl-C and SIGTERM are held until the import ends, then sent again to the handlers of before: a
    # KeyboardInterrupt raised inside one of the import's finalizers was swallowed, and the run went on.
    held = []
    in_main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, lambda signum, frame: held.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)} if in_main else {}
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    if not ASKED:
        os.dup2(devnull, 2)
    try:
        if os.environ["KERAS_BACKEND"] == "tensorflow":
            import tensorflow
            GPUS.extend(tensorflow.config.list_physical_devices("GPU"))
        import keras  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
        for s, handler in previous.items():
            signal.signal(s, handler)
        if held:
            signal.raise_signal(held[0])  # the stop that came meanwhile, now where it can be handled


def device_line():
    """The devices a run trains on, in words: the CPU, or the GPUs by name."""
    if not GPUS:
        return "the CPU (TensorFlow found no usable GPU)"
    import tensorflow as tf
    names = [tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name) for gpu in GPUS]
    return f"{len(GPUS)} GPU{'s' if len(GPUS) > 1 else ''}: " + ", ".join(names)


_import_quietly()
