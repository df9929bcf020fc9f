"""PCA by condition and eigenspectra, against direct NumPy / scikit-learn computations."""

import itertools

import numpy as np
import pytest
from sklearn.decomposition import PCA

import dynan
from dynan import tasks
from dynan.spectra import spectrum

N, N_IN = 12, 2


@pytest.fixture
def recorded(rng):
    an = dynan.from_weights(rng.normal(size=(N_IN, N)), 1.2 * rng.normal(size=(N, N)) / np.sqrt(N),
                            0.1 * rng.normal(size=N), gamma=0.3)
    types = np.resize(["a", "b", "c"], 30)
    coherence = np.resize([1, 2], 30)
    inputs = rng.normal(size=(30, 15, N_IN)) + (np.searchsorted(["a", "b", "c"], types)[:, None, None] - 1)
    trials = dynan.Trials.from_arrays(inputs, {"trial_type": types, "coherence": coherence})
    res = an.record(trials, progress=False)
    return an, trials, np.asarray(res.hidden)


def test_pca_on_all_states_equals_scikit_learn(recorded):
    an, trials, hidden = recorded
    p = an.pca(n_components=4, batch_size=7)
    direct = PCA(n_components=4, svd_solver="full").fit(hidden.reshape(-1, N).astype(float))
    np.testing.assert_allclose(p.components_, direct.components_, atol=1e-6)
    np.testing.assert_allclose(p.mean_, direct.mean_, atol=1e-6)
    np.testing.assert_allclose(p.explained_variance_ratio_, direct.explained_variance_ratio_, rtol=1e-6)
    np.testing.assert_allclose(p.projections, direct.transform(hidden.reshape(-1, N)).reshape(30, 15, 4),
                               atol=1e-5)
    np.testing.assert_allclose(p.pca.transform(hidden[0]), p.transform(hidden[0]))
    again = an.pca(n_components=4)  # batching changes nothing
    np.testing.assert_allclose(again.components_, p.components_, atol=1e-12)


def test_condition_means_and_their_errors_by_hand(recorded):
    an, trials, hidden = recorded
    p = an.pca(n_components=3, fit_on="condition_means")
    kinds = trials.conditions["trial_type"]
    means = np.stack([hidden[kinds == k].mean(axis=0) for k in ("a", "b", "c")])
    direct = PCA(n_components=3, svd_solver="full").fit(means.reshape(-1, N))
    np.testing.assert_allclose(p.components_, direct.components_, atol=1e-6)
    for name in ("explained_variance_ratio_", "singular_values_", "noise_variance_"):
        np.testing.assert_allclose(p.fitted[name], getattr(direct, name), rtol=1e-6)
    assert [tuple(g) for g in p.groups] == [("a",), ("b",), ("c",)]
    for k in ("a", "b", "c"):
        g = p.group(k)
        projected = p.transform(hidden[kinds == k])
        np.testing.assert_allclose(p.condition_means[g], projected.mean(axis=0), atol=1e-6)
        np.testing.assert_allclose(p.condition_sem[g], projected.std(axis=0, ddof=1) / np.sqrt(10), atol=1e-6)
        centred = hidden[kinds == k] - p.mean_
        share = np.sum(p.transform(hidden[kinds == k]) ** 2) / np.sum(centred ** 2)
        assert p.condition_explained_variance_ratio[g] == pytest.approx(share, rel=1e-6)
    assert list(p.condition_counts) == [10, 10, 10]


def test_grouping_by_several_columns(recorded):
    an, trials, hidden = recorded
    p = an.pca(n_components=2, by=("trial_type", "coherence"))
    assert len(p.groups) == 6 and p.by == ("trial_type", "coherence")
    g = p.group("b", 2)
    rows = (trials.conditions["trial_type"] == "b") & (trials.conditions["coherence"] == 2)
    np.testing.assert_allclose(p.condition_means[g], p.transform(hidden[rows]).mean(axis=0), atol=1e-6)
    with pytest.raises(ValueError, match=r"no group \('b', '3'\)"):
        p.group("b", 3)


def test_pca_and_spectrum_are_stored_in_the_results_file(tmp_path, rng):
    an = dynan.load(dynan.example_model("flipflop_leaky"))
    an.record(tasks.flipflop(12, seed=1), tmp_path / "ff.h5", progress=False)
    p, s = an.pca(n_components=3), an.spectrum()
    with dynan.Results(tmp_path / "ff.h5") as res:
        back, s_back = res.pca(), res.spectrum()
        assert len(res) == 12  # the recording is intact
    np.testing.assert_array_equal(back.projections, p.projections)
    np.testing.assert_array_equal(back.components_, p.components_)
    np.testing.assert_array_equal(back.groups, p.groups)
    np.testing.assert_allclose(back.transform(np.ones(64)), p.transform(np.ones(64)))
    np.testing.assert_array_equal(s_back.eigvals_map, s.eigvals_map)
    assert s.dt == 0.01 and s_back.dt == 0.01
    np.testing.assert_allclose(s.time_constants, 0.01 * s.time_constants_steps)


def test_pca_rejects_bad_arguments(recorded):
    an, _, _ = recorded
    with pytest.raises(ValueError, match=r"fit_on must be one of \('all', 'condition_means'\)"):
        an.pca(fit_on="means")
    with pytest.raises(ValueError, match=r"by must name condition columns; \['odor'\] not among"):
        an.pca(by="odor")
    with pytest.raises(ValueError, match=r"n_components must be an integer in \[1, 12\]; got 13"):
        an.pca(n_components=13)
    with pytest.raises(ValueError, match="no recording to analyse"):
        dynan.from_weights(np.ones((1, 2)), np.eye(2), np.zeros(2)).pca()


def test_tdnms_trial_types_separate_after_the_second_cue():
    """d' between trial types in PC1-3, averaged over bins 110-159.

    From bin 110 every trial type has had its second odor begin (LS's is the latest),
    and bin 159 ends the response window. d'(t) is the distance between two types' mean
    trajectories over the root mean square spread of their trials about those means;
    a mean d' of 2 or more means the types' clouds of trajectories hardly overlap.
    """
    an = dynan.load(dynan.example_model("tdnms_leaky"))
    an.record(tasks.tdnms(300, seed=21), progress=False)
    p = an.pca(n_components=3, fit_on="condition_means")
    window = slice(110, 160)
    for a, b in itertools.combinations(("LS", "SL", "SS"), 2):
        A = p.projections[p.group_of_trial == p.group(a), window]
        B = p.projections[p.group_of_trial == p.group(b), window]
        spread = np.sqrt((np.mean(np.sum((A - A.mean(0)) ** 2, -1), 0)
                          + np.mean(np.sum((B - B.mean(0)) ** 2, -1), 0)) / 2)
        d_prime = np.linalg.norm(A.mean(0) - B.mean(0), axis=-1) / spread
        assert d_prime.mean() >= 2, (a, b, d_prime.mean())


def test_spectrum_of_a_diagonal_network():
    d = np.array([0.5, -2.0, 1.2, 0.1])
    s = spectrum(np.diag(d), gamma=0.25, dt=0.1)
    np.testing.assert_allclose(s.eigvals_W, [-2.0, 1.2, 0.5, 0.1])
    np.testing.assert_allclose(s.eigvals_map, [1.05, 0.875, 0.775, 0.25])  # 1 - g + g d, by modulus
    np.testing.assert_allclose(s.singular_values, [2.0, 1.2, 0.5, 0.1])
    assert s.spectral_radius == 2.0 and s.henrici == pytest.approx(0, abs=1e-12)
    np.testing.assert_allclose(s.time_constants_steps, -1 / np.log(np.abs(s.eigvals_map)))
    np.testing.assert_allclose(s.time_constants, 0.1 * s.time_constants_steps)


def test_spectrum_of_a_rotation():
    r, theta = 0.9, 0.3
    R = r * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    s = spectrum(R, gamma=1.0)
    np.testing.assert_allclose(np.sort_complex(s.eigvals_W), np.sort_complex(r * np.exp([-1j * theta, 1j * theta])))
    np.testing.assert_allclose(s.singular_values, [r, r])
    assert s.henrici == pytest.approx(0, abs=1e-12) and s.time_constants is None


def test_leaky_scaling_and_non_normality(rng):
    W = rng.normal(size=(20, 20)) / np.sqrt(20)
    gamma = 0.2
    s = spectrum(W, gamma=gamma)
    mu = np.linalg.eigvals(W)
    np.testing.assert_allclose(np.sort_complex(s.eigvals_map), np.sort_complex(1 - gamma + gamma * mu), atol=1e-12)
    np.testing.assert_allclose(np.sort_complex(s.eigvals_W), np.sort_complex(mu), atol=1e-12)
    np.testing.assert_allclose(s.singular_values, np.linalg.svd(W, compute_uv=False))
    assert np.all(np.diff(np.abs(s.eigvals_map)) <= 1e-15)
    assert spectrum(np.array([[0.5, 3.0], [0.0, 0.2]])).henrici == pytest.approx(3.0)


def test_spectrum_needs_recurrent_weights(tmp_path):
    from keras_models import make_model

    make_model("gru").save(tmp_path / "gru.keras")
    with pytest.raises(ValueError, match="spectrum needs a network with recurrent_weights; this CellDynamics has"):
        dynan.load(tmp_path / "gru.keras").spectrum()
