"""onebit_train: BiNeal and sparse-kernel-selection training in PyTorch, exported to onebit
model files with bit-exact parity to the daemon's runtime (issue 6)."""

__version__ = "0.1.0"
