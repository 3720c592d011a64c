"""Evaluation: test-set metrics, the quality measures of a trained model, and the classifier that scores digits."""
