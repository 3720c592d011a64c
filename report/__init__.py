"""What a run shows: the figures (what and when), the index page and the TensorBoard events."""
