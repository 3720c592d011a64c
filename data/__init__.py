"""MNIST files and their loader."""
