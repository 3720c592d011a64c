"""Import TensorFlow and Keras without the CUDA and oneDNN start-up chatter a CPU-only user should not see."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _import_quietly():
    # TensorFlow's C++ runtime logs to file descriptor 2 before absl logging is configured, so
    # TF_CPP_MIN_LOG_LEVEL alone does not silence it: point fd 2 at /dev/null during the import.
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        if os.environ["KERAS_BACKEND"] == "tensorflow":
            import tensorflow  # noqa: F401
        import keras  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_import_quietly()
