"""dynan compare: distances between analysed networks, from their results files alone."""

import shutil
import warnings

import numpy as np
import pytest

import dynan
from dynan import compare
from dynan.cli import main

MODELS = ("flipflop_leaky", "integrator_leaky", "tdnms_leaky")


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """The bundled networks analysed without figures, and a second copy of the flip-flop's
    results under another name (the same network analysed twice gives the same file)."""
    folder = tmp_path_factory.mktemp("compare")
    paths = {}
    for name in MODELS:
        an = dynan.load(dynan.example_model(name))
        res = an.analyze(out=folder / name, n_trials=64, n_inits=128, formats=(),
                         progress=False)
        paths[name] = res.path
        res.close()
    twin = folder / "twin" / "flipflop_twin.h5"
    twin.parent.mkdir()
    shutil.copy(paths["flipflop_leaky"], twin)
    paths["twin"] = twin
    return paths


@pytest.fixture(scope="module")
def comparison(analysed):
    return compare.compare(list(analysed.values()), progress=False)


def test_each_network_gets_its_structure_and_class(comparison):
    m = comparison.models
    assert m["task"] == ["flipflop", "integrator", "tdnms", "flipflop"]
    assert m["stable"][0] == 8 and m["saddle"][0] >= 12  # the cube's corners, its saddles
    assert m["structure"][0].startswith("8 stable") and m["attractors"][0] == "8 stable"
    assert m["marginal"][1] >= 1 and m["stable"][1] == 0  # the line attractor
    # the copy shares the flip-flop's class, and no other network does
    assert m["topology_class"][3] == m["topology_class"][0]
    assert len({m["topology_class"][i] for i in range(3)}) == 3


def test_distances_are_symmetric_zero_for_copies_and_nan_across_trials(comparison):
    assert set(comparison.distances) == set(compare.DEFAULT_METRICS) == set(compare.METRICS) - {"dsa"}
    for metric, d in comparison.distances.items():
        assert d.shape == (4, 4)
        np.testing.assert_array_equal(d, d.T)
        np.testing.assert_array_equal(np.diag(d), 0)
        assert d[0, 3] == pytest.approx(0, abs=1e-9), metric  # the copy
    for metric in ("fixed_points", "topology"):
        off = comparison.distances[metric][np.triu_indices(3, 1)]
        assert np.all(off > 0), metric  # the three tasks' networks differ
    # different tasks ran different trials: their trajectories are not compared
    assert np.isnan(comparison.distances["cca"][0, 1])
    with pytest.raises(ValueError, match="cca distances are not defined for every pair"):
        comparison.embedding("cca")


def test_svcca_and_procrustes_on_rotated_and_unrelated_trajectories(rng):
    """Ground truth: an orthogonal rotation of the same trajectories is at distance 0,
    independent noise is not."""
    x = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 5))
    q = np.linalg.qr(rng.normal(size=(5, 5)))[0]
    same, other = ("key", x), ("key", x @ q)
    assert compare._svcca_distance(same, other) == pytest.approx(0, abs=1e-10)
    assert compare._procrustes_distance(same, other) == pytest.approx(0, abs=1e-6)
    noise = ("key", rng.normal(size=(200, 5)))
    assert compare._svcca_distance(same, noise) > 0.5
    assert compare._procrustes_distance(same, noise) > 1.0
    assert np.isnan(compare._svcca_distance(same, ("other trials", x)))


def test_dsa_compares_dynamics_up_to_a_change_of_basis(analysed, rng):
    """Ground truth for the operator distance: a similarity transform of an operator is
    at distance 0, another spectrum is not; and on the files, the flip-flop's copy is at
    0 and the integrator far, whatever trials each ran."""
    a = np.diag([0.95, 0.9, 0.5, 0.2]) + np.triu(rng.normal(scale=0.1, size=(4, 4)), 1)
    q = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    assert compare._dsa_distance(a, q @ a @ q.T) == pytest.approx(0, abs=0.02)
    assert compare._dsa_distance(a, np.diag([0.3, -0.5, 0.1, 0.0])) > 0.3
    paths = [analysed[name] for name in ("flipflop_leaky", "twin", "integrator_leaky")]
    d = compare.compare(paths, metrics=["dsa"], progress=False).distances["dsa"]
    assert d[0, 1] == pytest.approx(0, abs=1e-3)
    assert d[0, 2] > 0.2 and not np.isnan(d).any()


def test_an_optional_metric_without_its_package_is_refused_in_one_line(analysed, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "DSA" else find_spec(name, *a))
    with pytest.raises(ValueError, match=r"the dsa metric needs the dsa-metric package: "
                                         r"python -m pip install 'dynan\[dsa\]'"):
        compare.compare(list(analysed.values()), metrics=["topology", "dsa"])


def test_written_tables_read_back(comparison, tmp_path):
    out = compare.write(comparison, tmp_path / "cmp", formats=("png",))
    names = sorted(p.name for p in out.iterdir())
    assert names == [".dynan", "comparison.h5", "distances_cca.csv", "distances_fixed_points.csv",
                     "distances_procrustes.csv", "distances_topology.csv", "embedding.png",
                     "models.csv"]
    back = compare.read(out)
    assert back.models["name"] == comparison.models["name"]
    assert back.models["stable"] == comparison.models["stable"]
    for metric, d in comparison.distances.items():
        np.testing.assert_array_equal(back.distances[metric], d)
    header = (out / "distances_topology.csv").read_text().splitlines()[0]
    assert header == "," + ",".join(comparison.models["name"])


def test_command_line(analysed, tmp_path, capsys):
    folders = [str(analysed[name].parent) for name in MODELS]
    assert main(["compare", *folders, "--out", str(tmp_path / "out"), "--format", "png",
                 "--color-by", "kind"]) == 0
    printed = capsys.readouterr().out
    assert "  8 stable: 1 network\n    graph class 1 (8 stable, " in printed
    assert "flipflop_leaky" in printed
    assert (tmp_path / "out" / "embedding.png").is_file()
    # one line for a mistake, and nothing written
    assert main(["compare", folders[0], "--out", str(tmp_path / "one")]) == 2
    assert "compare needs at least two results files; got 1" in capsys.readouterr().err
    assert main(["compare", *folders, "--out", str(tmp_path / "bad"), "--color-by", "colour"]) == 2
    assert "no column 'colour' to colour by" in capsys.readouterr().err
    assert not (tmp_path / "one").exists() and not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_a_sweep_of_twelve_networks_compared_from_the_batch_alone(tmp_path):
    """examples/compare_sweep.py: GRU and SimpleRNN, flip-flop and integrator, three seeds
    (about 2 minutes of training), analysed by one batch, which compares them last."""
    import importlib.util
    from pathlib import Path

    from dynan.batch import batch

    spec = importlib.util.spec_from_file_location(
        "compare_sweep", Path(__file__).parents[1] / "examples" / "compare_sweep.py")
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)
    models = sweep.sweep(tmp_path / "models")
    rows = batch(models, tmp_path / "results", n_trials=128, workers=2, figures="none",
                 progress=False)
    assert [r["status"] for r in rows] == ["done"] * 12
    comparison = compare.read(tmp_path / "results" / "comparison")  # written by the batch
    m = comparison.models
    flipflop = [i for i, task in enumerate(m["task"]) if task == "flipflop"]
    assert len(flipflop) == 6 and all(m["attractors"][i] == "8 stable" for i in flipflop)
    assert all(m["attractors"][i] != "8 stable" for i in range(12) if i not in flipflop)
    assert comparison.silhouette("fixed_points", "task") >= 0.5
    xy = comparison.embedding("fixed_points")  # the map separates the tasks too
    from sklearn.metrics import silhouette_score

    assert silhouette_score(xy, m["task"]) >= 0.5


def test_equal_networks_sit_at_one_point_of_the_map_without_warnings():
    """A batch of copies: every distance is 0 (MDS alone would divide by zero)."""
    equal = compare.Comparison(models={"name": ["a", "b", "c"]},
                               distances={"topology": np.zeros((3, 3))})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(equal.embedding("topology"), np.zeros((3, 2)))
