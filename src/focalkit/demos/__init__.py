"""Runnable demonstrations of focalkit's losses, behind the ``focalkit`` command.

* :mod:`focalkit.demos.classify`: an MLP on long-tailed handwritten digits (or MNIST),
  trained with cross entropy, class-weighted cross entropy and three focal-loss variants.
* :mod:`focalkit.demos.segment`: a small fully convolutional net on synthetic images of
  small objects, trained with cross entropy, focal, Dice, Lovasz-Softmax and combinations.
* :mod:`focalkit.demos.detect`: a dense detection head with about one positive anchor in a
  thousand, trained with and without focal loss and the prior-bias initialisation.
* :mod:`focalkit.demos.lmhead`: a language-model-style head over a long-tailed vocabulary
  of 32k tokens, trained with materialised cross-entropy and with
  :class:`focalkit.LinearSoftmaxFocalLoss`.
* :mod:`focalkit.demos.plots`: the focal-loss curves and gamma schedules as figures.

The demos use only focalkit's public API. They need the ``demo`` extra
(``pip install "focalkit[demo]"``: scikit-learn, matplotlib, tqdm), imported only when a demo
runs, so that ``import focalkit`` needs nothing beyond torch and numpy.
"""
