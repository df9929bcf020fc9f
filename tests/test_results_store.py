"""Stage results stored in place, all or nothing, into a file the user keeps open."""

import os
import random
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

import dynan
from dynan import h5, tasks


@pytest.fixture
def recorded(tmp_path):
    an = dynan.load(dynan.example_model("flipflop_leaky"))
    res = an.record(tasks.flipflop(24, seed=2), tmp_path / "ff.h5", progress=False)
    return an, res, tmp_path / "ff.h5"


def test_stages_store_into_the_open_handle_which_stays_valid(recorded):
    an, res, path = recorded
    hidden, sl = res.hidden, res.select(trial_type=res.trial_types[0])
    before = hidden[:2, 10].copy()
    p = an.pca(n_components=3)
    fps = an.fixed_points(n_inits=64)
    lin = an.linearization()
    s = an.spectrum()
    np.testing.assert_array_equal(hidden[:2, 10], before)  # the user's arrays still read
    assert sl.hidden.shape[1:] == res.hidden.shape[1:]
    assert res.file.id.valid and an.recording is res
    np.testing.assert_array_equal(res.get("pca").components_, p.components_)
    np.testing.assert_array_equal(res.fixed_points().xstar, fps.xstar)
    np.testing.assert_array_equal(res.get("linearization").eigvals, lin.eigvals)
    assert res.spectrum().spectral_radius == s.spectral_radius
    res.close()
    with dynan.Results(path) as again:  # and another process sees it all
        assert {"pca", "fixed_points", "linearization", "spectrum"} <= set(again.file)


def test_a_store_that_fails_leaves_the_old_group_and_no_debris(recorded):
    an, res, _ = recorded
    p = an.pca(n_components=3)

    class Broken:
        def write(self, group):
            group.create_dataset("half", data=np.zeros(10))
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        res.store("pca", Broken())
    np.testing.assert_array_equal(res.get("pca").components_, p.components_)
    assert [name for name in res.file if name.startswith(".")] == []


def test_read_only_handles_say_how_to_store(recorded):
    an, res, path = recorded
    res.close()
    with dynan.Results(path) as read_only:
        with pytest.raises(ValueError, match=r"open it with dynan.Results\(path, mode='r\+'\)"):
            an.pca(read_only)
    with dynan.Results(path, mode="r+") as writable:
        an.pca(writable, n_components=2)
        assert writable.get("pca").components_.shape[0] == 2


def test_storing_again_reuses_the_space(tmp_path):
    path = tmp_path / "f.h5"
    with h5.new_file(path):
        pass

    def write(group):
        group.create_dataset("x", data=np.random.default_rng(0).random((256, 256)))

    sizes = []
    for _ in range(6):
        with h5py.File(path, "r+") as f:
            h5.store_group(f, "stage", write)
        sizes.append(os.path.getsize(path))
    assert sizes[-1] <= sizes[1]  # the replaced group's space is reused, the file does not grow


CHILD = r"""
import sys, numpy as np
import dynan

class Result:
    def write(self, group):
        for k in range(20):
            group.create_dataset(f"d{k}", data=np.random.rand(100, 100))

res = dynan.Results(sys.argv[1], mode="r+")
print("open", flush=True)
while True:
    res.store("stage", Result())
"""


@pytest.mark.kill
def test_killed_while_storing_the_file_stays_readable(tmp_path):
    path = tmp_path / "f.h5"
    with h5.new_file(path) as f:
        f.create_dataset("trials", data=np.arange(1000.0))
    rng = random.Random(0)
    for _ in range(6):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                                 text=True)
        assert child.stdout.readline().strip() == "open"
        time.sleep(rng.uniform(0.2, 1.0))
        child.send_signal(signal.SIGKILL)
        child.wait()
        with h5py.File(path, "r") as f:
            np.testing.assert_array_equal(f["trials"][()], np.arange(1000.0))
            if "stage" in f:  # a group under its name is always complete
                assert len(f["stage"]) == 20 and all(f["stage"][k].shape == (100, 100)
                                                     for k in f["stage"])
