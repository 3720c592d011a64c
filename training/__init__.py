"""Training: the flags (flags.py, no TensorFlow), the one epoch loop and run recipe (loop.py), compiled steps,
and the model families with their registry (families.py)."""
