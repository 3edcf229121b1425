"""Glue for training frameworks, each in its own module.

The modules import nothing from their framework at import time: the core package keeps its
torch-and-NumPy dependencies, and the ``integrations`` extra installs the frameworks.

* :mod:`focalkit.integrations.transformers`: a loss for Hugging Face ``Trainer``'s
  ``compute_loss_func``.
"""
