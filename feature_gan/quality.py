"""What a feature GAN generates, measured per class against the real training data, and a filter.

All distances are in the real data's standardised space (each feature to zero mean and unit
variance over the training rows), so no feature dominates by its unit.

* ``class_mmd2``: unbiased RBF MMD² between a class's real and generated vectors (σ = the median
  pairwise distance of the real ones), per class.
* ``prdc``: precision, recall, density and coverage of generated vs real vectors (Naeem et al.
  2020, k nearest neighbours): precision = share of generated vectors inside some real vector's
  k-NN ball (fidelity), recall = share of real vectors inside some generated vector's ball
  (diversity), coverage = share of real vectors whose ball holds a generated one.
* ``tstr_accuracy``: train on synthetic, test on real — logistic regression fitted on the
  generated vectors of every class, accuracy on real vectors.
* ``SampleFilter``: keeps a generated vector of class c only if a classifier trained on the real
  training data assigns it to c, and it lies within class c's real support (its distance to the
  nearest real vector of c is at most the 95th percentile of the real vectors' own
  nearest-neighbour distances within c). ``FeatureSynthesizer.sample`` then draws until it has
  enough accepted vectors.
"""

from __future__ import annotations

import numpy as np

from feature_gan.data import FeatureData

__all__ = ["Standardiser", "class_mmd2", "prdc", "tstr_accuracy", "SampleFilter", "quality_report"]


class Standardiser:
    def __init__(self, x: np.ndarray) -> None:
        self.mean, self.scale = x.mean(0), np.where(x.std(0) > 0, x.std(0), 1.0)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, np.float64) - self.mean) / self.scale


def _kth_distances(x: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(x) - 1)
    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    return dist[:, k]


def prdc(real: np.ndarray, fake: np.ndarray, *, k: int = 5) -> dict[str, float]:
    """Precision, recall, density, coverage (standardised inputs expected)."""
    from sklearn.metrics import pairwise_distances

    if len(real) < 2 or len(fake) < 2:
        return {"precision": float("nan"), "recall": float("nan"), "density": float("nan"), "coverage": float("nan")}
    r_rad, f_rad = _kth_distances(real, k), _kth_distances(fake, k)
    d = pairwise_distances(real, fake)  # (n_real, n_fake)
    inside_real = d < r_rad[:, None]
    return {"precision": float(inside_real.any(0).mean()),
            "recall": float((d < f_rad[None, :]).any(1).mean()),
            "density": float(inside_real.sum(0).mean() / min(k, len(real) - 1)),
            "coverage": float((d.min(1) < r_rad).mean())}


def class_mmd2(real: np.ndarray, fake: np.ndarray) -> float:
    from training.mmd import median_bandwidth, mmd2_unbiased

    if len(real) < 2 or len(fake) < 2:
        return float("nan")
    return float(mmd2_unbiased(real, fake, median_bandwidth(real, real)))


def tstr_accuracy(fakes: list[np.ndarray], data: FeatureData, *, seed: int = 0) -> float:
    """Logistic regression trained on generated vectors (``fakes[c]``: class c's), accuracy on ``data``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = np.vstack(fakes), np.concatenate([np.full(len(f), c) for c, f in enumerate(fakes)])
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, random_state=seed)).fit(x, y)
    return float((clf.predict(data.x) == data.y).mean())


class SampleFilter:
    """Accept a generated vector of class c if the real data's classifier says c and it lies
    within c's real support (see the module docstring)."""

    def __init__(self, data: FeatureData, *, quantile: float = 0.95, seed: int = 0) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.neighbors import NearestNeighbors

        self.std = Standardiser(data.x)
        z = self.std(data.x)
        self.classifier = LogisticRegression(max_iter=3000, random_state=seed).fit(z, data.y)
        self.neighbours, self.radius = {}, {}
        for c in np.unique(data.y):
            zc = z[data.y == c]
            self.neighbours[int(c)] = NearestNeighbors(n_neighbors=1).fit(zc)
            self.radius[int(c)] = float(np.quantile(_kth_distances(zc, 1), quantile)) if len(zc) > 1 else np.inf

    def badness(self, x: np.ndarray, c: int) -> np.ndarray:
        """Distance to class c's nearest real vector over c's support radius, + 1e6 when the
        classifier says another class (never accepted, and ranked last when the rest fill up): a
        vector is accepted at <= 1."""
        if len(x) == 0:
            return np.zeros(0)
        z = self.std(x)
        dist, _ = self.neighbours[c].kneighbors(z)
        return dist[:, 0] / self.radius[c] + (self.classifier.predict(z) != c) * 1e6

    def accept(self, x: np.ndarray, c: int) -> np.ndarray:
        return self.badness(x, c) <= 1.0

    def sample(self, synth, c: int, n: int, *, seed: int = 0, rounds: int = 10,
               label: str | int | None = None) -> tuple[np.ndarray, float]:
        """``n`` vectors of class ``c`` (the filter's data's index; ``label``: the model's name for
        it, when its classes are ordered otherwise) that pass, drawn in rounds of fresh noise; if
        ``rounds`` draws do not yield ``n``, the least bad of the rest fill up. Returns them and
        the acceptance rate."""
        if n <= 0:
            return np.empty((0, len(synth.feature_names))), float("nan")
        kept, rest, drawn = [], [], 0
        for r in range(rounds):
            x = synth.sample(c if label is None else label, max(2 * n, 64),
                             seed=int(np.random.SeedSequence([seed, c, r]).generate_state(1)[0]))
            bad = self.badness(x, c)
            kept.append(x[bad <= 1.0])
            rest.append((x[bad > 1.0], bad[bad > 1.0]))
            drawn += len(x)
            if sum(len(k) for k in kept) >= n:
                break
        good = np.vstack(kept)
        rate = len(good) / drawn
        if len(good) < n:
            xs, bs = np.vstack([x for x, _ in rest]), np.concatenate([b for _, b in rest])
            good = np.vstack([good, xs[np.argsort(bs, kind="stable")[:n - len(good)]]])
        return good[:n], rate


def quality_report(synth, data: FeatureData, *, per_class: int = 200, seed: int = 0,
                   sample_filter: SampleFilter | None = None) -> dict:
    """Per class: MMD², PRDC and the filter's acceptance rate; overall TSTR accuracy. Generated
    vectors are drawn unfiltered, so the report measures the generator itself."""
    std = Standardiser(data.x)
    out: dict = {"per_class": {}}
    fakes = [synth.sample(c, per_class, seed=seed) for c in range(len(synth.classes))]
    for c, (name, fake) in enumerate(zip(synth.classes, fakes)):
        real = data.x[data.y == c]
        row = {"mmd2": class_mmd2(std(real), std(fake)), **prdc(std(real), std(fake))}
        if sample_filter is not None:
            row["accepted"] = float(sample_filter.accept(fake, c).mean())
        out["per_class"][name] = row
    for key in next(iter(out["per_class"].values())):
        out[f"mean_{key}"] = float(np.nanmean([r[key] for r in out["per_class"].values()]))
    out["tstr_accuracy"] = tstr_accuracy(fakes, data, seed=seed)  # the same vectors as the per-class lines
    return out
