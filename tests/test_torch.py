"""PyTorch networks (dynan.torch_networks): closed-form dynamics of torch's recurrent modules,
torch.func dynamics of any step module, and loading saved models without unpickling code."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from dynan.dynamics import LeakyDynamics  # noqa: E402
from dynan.errors import ModelError  # noqa: E402
from dynan.results import Results  # noqa: E402
from dynan.testing import check_dynamics  # noqa: E402
from dynan.torch_networks import (  # noqa: E402
    TorchRecurrentDynamics, TorchStepDynamics, from_torch, load_torch)

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*deprecated:DeprecationWarning")

N_IN, H = 3, 5


class LeakyTanh(nn.Module):
    """A step module: ``h' = (1 - a) h + a tanh(x W_in + h W_rec + b)``, with a readout."""

    def __init__(self, input_size=N_IN, hidden_size=H, alpha=0.3):
        super().__init__()
        self.input_size, self.hidden_size, self.alpha = input_size, hidden_size, alpha
        self.W_in = nn.Parameter(torch.randn(input_size, hidden_size))
        self.W_rec = nn.Parameter(torch.randn(hidden_size, hidden_size) / hidden_size ** 0.5)
        self.b = nn.Parameter(0.1 * torch.randn(hidden_size))
        self.readout = nn.Linear(hidden_size, 2)

    def forward(self, x, h):
        return (1 - self.alpha) * h + self.alpha * torch.tanh(x @ self.W_in + h @ self.W_rec + self.b)


class GRUModel(nn.Module):
    """A sequence model as users write one: a GRU and a Linear readout as children."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(N_IN, H, num_layers=2, batch_first=True)
        self.fc = nn.Linear(H, 2)

    def forward(self, x):
        return self.fc(self.rnn(x)[0])


class NeedsArguments(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()
        self.rnn = nn.GRU(N_IN, hidden_size)


MODULES = {
    "rnn-tanh": lambda: nn.RNN(N_IN, H),
    "rnn-relu": lambda: nn.RNN(N_IN, H, nonlinearity="relu", batch_first=True),
    "rnn-2-layers-no-bias": lambda: nn.RNN(N_IN, H, num_layers=2, bias=False),
    "gru": lambda: nn.GRU(N_IN, H, batch_first=True),
    "gru-no-bias": lambda: nn.GRU(N_IN, H, bias=False),
    "gru-2-layers": lambda: nn.GRU(N_IN, H, num_layers=2),
    "gru-2-layers-no-bias": lambda: nn.GRU(N_IN, H, num_layers=2, bias=False, batch_first=True),
    "lstm": lambda: nn.LSTM(N_IN, H),
    "lstm-no-bias": lambda: nn.LSTM(N_IN, H, bias=False, batch_first=True),
    "lstm-2-layers": lambda: nn.LSTM(N_IN, H, num_layers=2, batch_first=True),
    "lstm-2-layers-no-bias": lambda: nn.LSTM(N_IN, H, num_layers=2, bias=False),
    "rnn-cell": lambda: nn.RNNCell(N_IN, H),
    "rnn-cell-relu": lambda: nn.RNNCell(N_IN, H, nonlinearity="relu"),
    "gru-cell": lambda: nn.GRUCell(N_IN, H),
    "lstm-cell": lambda: nn.LSTMCell(N_IN, H),
    "lstm-cell-no-bias": lambda: nn.LSTMCell(N_IN, H, bias=False),
    "step-module": LeakyTanh,
}


def _make(name, seed=0):
    torch.manual_seed(seed)
    module = MODULES[name]()
    with torch.no_grad():  # weights large enough that every nonlinearity bends
        for p in module.parameters():
            p.mul_(2.0)
    return module


def torch_step64(module):
    """The module's own step in float64, ``f(h, x) -> h_next`` on one (N,) state: the truth."""
    import copy

    m = copy.deepcopy(module).double().eval().requires_grad_(False)
    if isinstance(m, (nn.RNNCell, nn.GRUCell)) or not isinstance(m, (nn.RNNBase, nn.LSTMCell)):
        return lambda h, x: m(x[None], h[None])[0]
    if isinstance(m, nn.LSTMCell):
        return lambda h, x: torch.cat(m(x[None], (h[None, :H], h[None, H:])), dim=1)[0]
    L, lstm = m.num_layers, isinstance(m, nn.LSTM)

    def f(h, x):
        seq = x[None, None]  # batch 1, time 1 either way round
        states = h.reshape(L, 1, -1)
        if lstm:
            _, (hn, cn) = m(seq, (states[..., :H].contiguous(), states[..., H:].contiguous()))
            return torch.cat([torch.cat([hn[k], cn[k]], dim=1) for k in range(L)], dim=1)[0]
        return m(seq, states.contiguous())[1].reshape(-1)
    return f


def _states(d, n=6, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(scale=0.8, size=(n, d.n_units)), rng.normal(size=(n, d.n_inputs))


@pytest.mark.parametrize("name", sorted(MODULES))
def test_steps_and_jacobians_equal_torch_in_float64(name):
    module = _make(name)
    an = from_torch(module, readout=None if name == "step-module" else nn.Linear(H, 2))
    d = an.dynamics
    h, x = _states(d)
    f = torch_step64(module)
    th, tx = torch.from_numpy(h), torch.from_numpy(x)
    with torch.no_grad():
        truth = torch.stack([f(th[i], tx[i]) for i in range(len(h))]).numpy()
    J, Jx = torch.func.vmap(torch.func.jacrev(f, argnums=(0, 1)))(th, tx)
    np.testing.assert_allclose(d.step(h, x), truth, rtol=0, atol=1e-12)
    np.testing.assert_allclose(d.jacobian(h, x), J.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(d.input_jacobian(h, x), Jx.numpy(), rtol=0, atol=1e-12)
    report = check_dynamics(d)
    assert {c.name for c in report if c.passed} >= {
        "reference_step", "reference_run", "jacobian", "input_jacobian", "tangent", "batching",
        "float64", "readout"}
    assert d.n_outputs == 2 and d.readout(h).shape == (len(h), 2)
    json.dumps(d.describe())


@pytest.mark.parametrize("name, kind, parts", [
    ("rnn-tanh", LeakyDynamics, [("h", H)]),
    ("rnn-cell-relu", LeakyDynamics, [("h", H)]),
    ("rnn-2-layers-no-bias", TorchRecurrentDynamics, [("h0", H), ("h1", H)]),
    ("gru", TorchRecurrentDynamics, [("h", H)]),
    ("lstm", TorchRecurrentDynamics, [("h", H), ("c", H)]),
    ("lstm-2-layers", TorchRecurrentDynamics, [("h0", H), ("c0", H), ("h1", H), ("c1", H)]),
    ("lstm-cell", TorchRecurrentDynamics, [("h", H), ("c", H)]),
    ("step-module", TorchStepDynamics, [("h", H)]),
])
def test_kinds_state_parts_and_outputs(name, kind, parts):
    module = _make(name)
    d = from_torch(module).dynamics
    assert type(d) is kind and list(d.state_parts) == parts
    assert d.n_units == sum(n for _, n in parts) and d.n_inputs == N_IN
    np.testing.assert_array_equal(d.initial_state, np.zeros(d.n_units))
    # the output is what the module emits: the last layer's h (a step module: its own readout)
    h, x = _states(d)
    y_ref, h_ref = d.reference(h, x)
    hidden, outputs = d.run_batch(x[:, None], h)
    np.testing.assert_allclose(hidden[:, 0], h_ref, atol=1e-5)
    np.testing.assert_allclose(outputs[:, 0], y_ref, atol=1e-5)
    assert d.n_outputs == (2 if name == "step-module" else H)


def test_a_one_layer_rnn_is_a_leaky_network_in_keras_orientation():
    module = _make("rnn-tanh")
    d = from_torch(module).dynamics
    np.testing.assert_array_equal(d.W_in, module.weight_ih_l0.detach().double().numpy().T)
    np.testing.assert_array_equal(d.W_rec, module.weight_hh_l0.detach().double().numpy().T)
    assert d.gamma == 1.0 and "recurrent_weights" in d.capabilities
    # with a readout that is not a Linear, the closed form of torch's modules serves
    an = from_torch(module, readout=nn.Sequential(nn.Linear(H, 2), nn.Tanh()))
    assert isinstance(an.dynamics, TorchRecurrentDynamics)
    check_dynamics(an.dynamics)


def test_any_readout_module_reads_the_last_layers_h():
    module = _make("gru-2-layers")
    readout = nn.Sequential(nn.Linear(H, 4), nn.Tanh(), nn.Linear(4, 2))
    d = from_torch(module, readout=readout).dynamics
    h, _ = _states(d)
    with torch.no_grad():
        expected = readout.double()(torch.from_numpy(h[:, H:])).numpy()
    readout.float()
    np.testing.assert_allclose(d.readout(h), expected, atol=1e-12)
    assert d.readout(h[None]).shape == (1, len(h), 2)
    check_dynamics(d)


def test_the_users_module_is_not_changed():
    module = _make("step-module").train()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    d = from_torch(module).dynamics
    d.step(*_states(d))
    assert module.training and all(p.dtype == torch.float32 for p in module.parameters())
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())


def test_a_model_holding_a_recurrent_module_is_read_with_its_linear_readout():
    torch.manual_seed(0)
    model = GRUModel()
    an = from_torch(model, task="flipflop", task_params={"n_time": 20})
    d = an.dynamics
    assert an.layer_name == "rnn" and an.task == "flipflop" and an.task_params == {"n_time": 20}
    assert isinstance(d, TorchRecurrentDynamics) and d.num_layers == 2 and d.n_outputs == 2
    x = np.random.default_rng(0).normal(size=(4, 7, N_IN)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).double().numpy()
    np.testing.assert_allclose(an.run(x).outputs, expected, atol=1e-5)


def test_an_lstm_run_equals_torch_over_a_sequence():
    torch.manual_seed(0)
    lstm = nn.LSTM(N_IN, H, num_layers=2, batch_first=True)
    x = np.random.default_rng(0).normal(size=(3, 30, N_IN))
    traj = from_torch(lstm).run(x)
    with torch.no_grad():
        out, _ = lstm.double()(torch.from_numpy(x))
    np.testing.assert_allclose(traj.outputs, out.numpy(), atol=1e-12)


def test_an_initial_state_and_sizes_are_checked():
    d = from_torch(_make("lstm"), initial_state=np.arange(2 * H) / 10).dynamics
    np.testing.assert_array_equal(d.initial_state, np.arange(2 * H) / 10)
    with pytest.raises(ValueError, match=r"initial_state must have shape \(10,\)"):
        from_torch(_make("lstm"), initial_state=np.zeros(H))
    with pytest.raises(ValueError, match="n_inputs=4 but the GRU takes 3 inputs"):
        from_torch(_make("gru"), n_inputs=4)
    with pytest.raises(ValueError, match="the readout takes 7 values"):
        from_torch(_make("gru"), readout=nn.Linear(7, 2))


def test_a_step_module_without_sizes_is_told_what_to_pass():
    class Bare(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2 + 4, 4)

        def forward(self, x, h):
            return torch.tanh(self.lin(torch.cat([x, h], dim=1)))

    with pytest.raises(ValueError, match="has no input_size attribute: pass n_inputs="):
        from_torch(Bare())
    d = from_torch(Bare(), n_inputs=2, initial_state=np.zeros(4)).dynamics
    assert (d.n_units, d.n_inputs, d.n_outputs) == (4, 2, 4)
    check_dynamics(d)


def test_a_step_module_whose_state_has_a_default_is_a_step_module():
    class Optional(LeakyTanh):
        def forward(self, x, h=None):
            return super().forward(x, torch.zeros_like(self.b) if h is None else h)

    class LoopsACell(nn.Module):  # forward over sequences, a GRUCell inside: a model
        def __init__(self):
            super().__init__()
            self.cell = nn.GRUCell(N_IN, H)
            self.out = nn.Linear(H, 2)

        def forward(self, x, h=None):
            raise NotImplementedError

    assert isinstance(from_torch(Optional()).dynamics, TorchStepDynamics)
    an = from_torch(LoopsACell())
    assert isinstance(an.dynamics, TorchRecurrentDynamics) and an.dynamics.n_outputs == 2
    assert an.layer_name == "cell"


def test_a_step_module_that_stays_in_float32_is_refused():
    class Float32Output(LeakyTanh):
        def forward(self, x, h):
            return super().forward(x, h).float()

    class PlainTensor(LeakyTanh):  # a tensor attribute, not a parameter or buffer
        def __init__(self):
            super().__init__()
            self.mask = torch.ones(H, H)

        def forward(self, x, h):
            return torch.tanh(x @ self.W_in + (h @ self.mask) @ self.W_rec)

    with pytest.raises(ModelError, match="computes in torch.float32 after .double()"):
        from_torch(Float32Output())
    with pytest.raises(ModelError, match="fails on x .* parameters or buffers") as info:
        from_torch(PlainTensor())
    assert "\n" not in str(info.value)


def test_a_step_module_that_returns_a_tuple_is_refused():
    class Pair(LeakyTanh):
        def forward(self, x, h):
            h = super().forward(x, h)
            return h, h

    with pytest.raises(ModelError, match="must return h_next alone"):
        from_torch(Pair())


def test_a_module_that_vmap_cannot_run_gets_its_jacobians_from_autograd():
    class InPlace(LeakyTanh):
        def forward(self, x, h):
            z = x @ self.W_in + h @ self.W_rec + self.b
            if float(z.detach().abs().max()) > 1e6:  # .item() inside: torch.func cannot vmap this
                raise RuntimeError("diverged")
            return (1 - self.alpha) * h + self.alpha * torch.tanh(z)

    torch.manual_seed(0)
    module = InPlace()
    d = from_torch(module).dynamics
    assert d._vmap is False
    h, x = _states(d)
    f = torch_step64(module)
    J = np.stack([torch.func.jacrev(f)(torch.from_numpy(h[i]), torch.from_numpy(x[i])).numpy()
                  for i in range(len(h))])
    np.testing.assert_allclose(d.jacobian(h, x), J, atol=1e-12)
    check_dynamics(d)


def test_non_finite_weights_are_refused():
    gru, step = _make("gru"), _make("step-module")
    with torch.no_grad():
        gru.weight_hh_l0[0, 0] = float("nan")
        step.W_rec[1, 1] = float("inf")
    with pytest.raises(ModelError, match="weight weight_hh_l0 has non-finite values"):
        from_torch(gru)
    with pytest.raises(ModelError, match="LeakyTanh weight W_rec has non-finite values"):
        from_torch(step)


@pytest.mark.parametrize("module, message", [
    (lambda: nn.GRU(3, 4, bidirectional=True), "bidirectional=True is not supported"),
    (lambda: nn.LSTM(3, 4, proj_size=2), "proj_size=2 is not supported"),
    (lambda: nn.Linear(3, 4), "not a torch recurrent module"),
    (lambda: nn.Sequential(nn.GRU(3, 4), nn.GRU(4, 4)), "2 recurrent children"),
])
def test_unsupported_modules_are_refused_in_one_line(module, message):
    with pytest.raises(ValueError, match=message) as info:
        from_torch(module())
    assert "\n" not in str(info.value)


def test_import_dynan_does_not_import_torch():
    code = ("import sys, dynan, dynan.torch_networks; dynan.Analysis; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_torch_from_torch_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    with pytest.raises(ImportError, match=r'from_torch needs PyTorch: pip install "dynan\[torch\]"'):
        from_torch(object())


# --- saved models ----------------------------------------------------------------------------

def test_a_full_module_pickle_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(_make("gru"), path)
    with pytest.raises(ModelError, match=r"pickled Python object \(torch.nn.modules.rnn.GRU; "
                       "what torch.save\\(model\\) writes\\), .* unpickling runs code") as info:
        load_torch(path, torch_class=GRUModel)
    assert "\n" not in str(info.value) and "state_dict" in str(info.value)


def test_a_state_dict_round_trip(tmp_path):
    torch.manual_seed(3)
    model = GRUModel()
    path = tmp_path / "gru.pt"
    torch.save(model.state_dict(), path)
    path.with_suffix(".json").write_text(json.dumps({"task": "flipflop",
                                                     "task_params": {"n_time": 20}}))
    an = load_torch(path, torch_class=GRUModel)
    assert an.source == path and len(an.sha256) == 64 and an.task == "flipflop"
    assert an.task_params == {"n_time": 20}
    expected = from_torch(model).dynamics
    h, x = _states(expected)
    np.testing.assert_array_equal(an.dynamics.step(h, x), expected.step(h, x))
    np.testing.assert_array_equal(an.dynamics.readout(h), expected.readout(h))
    check_dynamics(an.dynamics)
    # a checkpoint dict holding the state_dict
    torch.save({"epoch": 3, "model_state_dict": model.state_dict()}, tmp_path / "ckpt.pt")
    assert load_torch(tmp_path / "ckpt.pt", torch_class=GRUModel).dynamics.n_units == 2 * H


def test_a_state_dict_without_its_class_or_with_the_wrong_one_is_refused(tmp_path):
    path = tmp_path / "gru.pt"
    torch.save(GRUModel().state_dict(), path)
    with pytest.raises(ModelError, match="holds weights alone .* torch_class="):
        load_torch(path)
    with pytest.raises(ModelError, match="do not fit LeakyTanh"):
        load_torch(path, torch_class=LeakyTanh)
    with pytest.raises(ModelError, match="must construct with no arguments"):
        load_torch(path, torch_class=NeedsArguments)
    (tmp_path / "junk.pt").write_text("not a model")
    with pytest.raises(ModelError, match="could not read .* as a PyTorch file"):
        load_torch(tmp_path / "junk.pt", torch_class=GRUModel)
    with pytest.raises(FileNotFoundError):
        load_torch(tmp_path / "missing.pt")


def test_a_state_dict_with_a_class_named_module_colon_class(tmp_path, monkeypatch):
    name = "dynan_test_torch_models"
    (tmp_path / f"{name}.py").write_text(
        "import torch\n\nclass Net(torch.nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.rnn = torch.nn.LSTM(3, 4)\n"
        "        self.out = torch.nn.Linear(4, 1)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        net = importlib.import_module(name).Net()
        torch.save(net.state_dict(), tmp_path / "net.pt")
        an = load_torch(tmp_path / "net.pt", torch_class=f"{name}:Net")
        assert an.dynamics.n_units == 8 and an.dynamics.n_outputs == 1
        by_path = load_torch(tmp_path / "net.pt", torch_class=f"{tmp_path / name}.py:Net")
        assert by_path.dynamics.n_units == 8
    finally:
        sys.modules.pop(name, None)
    with pytest.raises(ValueError, match="module:ClassName"):
        load_torch(tmp_path / "net.pt", torch_class="Net")
    with pytest.raises(ValueError, match="has no class 'Nett'"):
        load_torch(tmp_path / "net.pt", torch_class="collections:Nett")


@pytest.mark.parametrize("make", [
    lambda: _make("gru-2-layers-no-bias"),
    lambda: _make("lstm-2-layers"),
    lambda: _make("lstm-cell"),
    GRUModel,
    lambda: _make("step-module"),
], ids=["gru", "lstm", "lstm-cell", "model", "step-module"])
def test_a_torchscript_round_trip(tmp_path, make):
    torch.manual_seed(0)
    module = make()
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(module), path)
    an = load_torch(path)
    expected = from_torch(module).dynamics
    assert type(an.dynamics) is type(expected) and an.dynamics.state_parts == expected.state_parts
    h, x = _states(expected)
    np.testing.assert_allclose(an.dynamics.step(h, x), expected.step(h, x), atol=1e-15)
    np.testing.assert_allclose(an.dynamics.jacobian(h, x), expected.jacobian(h, x), atol=1e-15)
    np.testing.assert_allclose(an.dynamics.readout(h), expected.readout(h), atol=1e-15)
    check_dynamics(an.dynamics)


def test_an_analysis_of_a_torch_network_runs_end_to_end(tmp_path):
    torch.manual_seed(0)
    an = from_torch(nn.GRU(3, 8, num_layers=2), readout=nn.Linear(8, 3), task="flipflop",
                    task_params={"n_time": 30})
    res = an.analyze(out=tmp_path / "out", n_trials=16, n_inits=16, formats=(), progress=False)
    with res:
        assert "fixed_points" in res.file and res.file.attrs["state_parts"]
        assert json.loads(res.file.attrs["network"])["torch_module"] == "GRU"


# --- the flip-flop example (trains two networks) ---------------------------------------------

def _example():
    path = Path(__file__).resolve().parents[1] / "examples" / "torch_flipflop.py"
    spec = importlib.util.spec_from_file_location("torch_flipflop", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["torch_flipflop"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("train", ["train_gru", "train_leaky"])
def test_trained_torch_flipflops_have_the_cube_and_its_one_bit_saddles(tmp_path, train):
    example = _example()
    model = getattr(example, train)(seed=0)
    an, res = example.analyze(model, tmp_path / train, n_trials=64)
    with res:
        example.check_cube(an, res)
        check_dynamics(an.dynamics, res.inputs[:16])
    assert (tmp_path / f"{train}.pt").is_file() and an.source == tmp_path / f"{train}.pt"
    # the same state_dict from the command line (its card beside it gives the task)
    done = subprocess.run([sys.executable, "-m", "dynan", "analyze", str(tmp_path / f"{train}.pt"),
                           "--import", example.__file__, "--torch-class",
                           f"torch_flipflop:{type(model).__name__}", "--trials", "64",
                           "--format", "none", "--out", str(tmp_path / "cli")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with Results(tmp_path / "cli" / f"{train}.h5") as res:
        example.check_cube(an, res)


def test_the_command_line_analyses_a_state_dict_and_refuses_a_pickled_module(tmp_path):
    """`dynan analyze model.pt --import FILE --torch-class MODULE:CLASS`; a full-module
    pickle is refused in one line, exit 2, and nothing is written."""
    module = _example()
    example = module.__file__
    torch.manual_seed(0)
    model = module.GRUFlipFlop()
    torch.save(model.state_dict(), tmp_path / "gru.pt")
    torch.save(torch.nn.GRU(3, 4), tmp_path / "pickled.pt")  # a whole module, pickled
    run = lambda *args: subprocess.run([sys.executable, "-m", "dynan", "analyze", *args],  # noqa: E731
                                       capture_output=True, text=True)
    args = ["analyze", str(tmp_path / "gru.pt"), "--import", str(example), "--torch-class",
            "torch_flipflop:GRUFlipFlop", "--task", "flipflop", "--trials", "16", "--format",
            "none", "--out", str(tmp_path / "out")]
    code = (f"import sys; from dynan.cli import main; code = main({args!r}); "
            "print('tensorflow imported:', 'tensorflow' in sys.modules); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "network       TorchRecurrentDynamics, 16 units" in done.stdout
    assert "tensorflow imported: False" in done.stdout  # a PyTorch user's module needs no Keras
    refused = run(str(tmp_path / "pickled.pt"), "--out", str(tmp_path / "bad"))
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "unpickling" in refused.stderr or "pickle" in refused.stderr
    assert not (tmp_path / "bad").exists()
