"""Small data sets shipped with scikit-learn, prepared the one way the tests and their child processes use."""

from __future__ import annotations

import numpy as np


def breast_cancer_split():
    """Standardised breast-cancer features (float32) and 0/1 labels, shuffled with seed 0 and split
    400 train / 169 validation: ((x_train, y_train), (x_val, y_val))."""
    from sklearn.datasets import load_breast_cancer

    features, labels = load_breast_cancer(return_X_y=True)
    features = ((features - features.mean(0)) / features.std(0)).astype("float32")
    order = np.random.default_rng(0).permutation(len(labels))
    features, labels = features[order], labels[order].astype("float32")
    return (features[:400], labels[:400]), (features[400:], labels[400:])
