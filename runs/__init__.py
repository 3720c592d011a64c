"""Run folders: what a run writes and how it is read back (atomic files, the lock, checkpoints and weights, the
folder as the training loop sees it), and the run-folder side of the flags (--resume, --restore, --m1_run).
No TensorFlow is imported here."""
