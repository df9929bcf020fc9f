"""Train a vanilla RNN in JAX on the integrator task, then find its line attractor with dynan.

In the style of computation-thru-dynamics (Sussillo's JAX tutorials): the network is a
pure function of a params pytree, ``h' = tanh(W h + U x + b)``, ``y = w_out h + b_out``
(column vectors, as the tutorial writes them: dynan does not mind), trained by Adam
(a few lines of it, below) with gradient clipping and an L2 penalty on the recurrent
weights. ``from_jax`` then analyses the trained step in float64: fixed points, their
linearization, and the line attractor traced through the marginal ones.

Training trials last twice as long as the analysed ones (50 bins): trained on 25, the
networks settle on two attractors and a saddle at ``|lambda|`` about 1.03 between them.
Even so, a trained vanilla network's slowest fixed points sit within about 0.01 of
``|lambda| = 1``, on either side of the marginal tolerance of 25-bin trials (0.004): in
about three seeds out of five (9 of seeds 0-13) one of them is marginal and the line is
traced through it; seed 0 is one.

Run:  python examples/jax_integrator.py [--seed 0] [--out jax-integrator]   (about 15 s on CPU)

Needs JAX (``pip install "dynan[jax]"``).
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import dynan
from dynan import tasks
from dynan.jax_networks import from_jax  # also dynan.from_jax

N_UNITS = 64
N_BATCHES, BATCH_SIZE = 1500, 128
LEARNING_RATE, DECAY = 1e-2, 0.998  # per batch
MAX_GRAD_NORM, L2 = 10.0, 2e-4
ADAM = (0.9, 0.999, 1e-1)  # b1, b2, eps (the tutorial's large eps steadies the start)
TRAIN_T = 2.0  # seconds per training trial: twice the analysed trials, so the memory outlasts them


def random_params(key, n=N_UNITS, u=1, o=1, g=0.9):
    """The tutorial's initialisation; h0 is trained too."""
    import jax
    import jax.numpy as jnp

    k = jax.random.split(key, 4)
    f32 = jnp.float32
    return {"h0": jnp.zeros(n, f32),
            "W": g * jax.random.normal(k[0], (n, n), f32) / np.sqrt(n),
            "U": jax.random.normal(k[1], (n, u), f32) / np.sqrt(u),
            "b": jnp.zeros(n, f32),
            "w_out": jax.random.normal(k[2], (o, n), f32) / np.sqrt(n),
            "b_out": jnp.zeros(o, f32)}


def step(params, h, x):
    """One step of the vanilla RNN: ``h' = tanh(W h + U x + b)``; h (N,), x (n_in,)."""
    import jax.numpy as jnp

    return jnp.tanh(params["W"] @ h + params["U"] @ x + params["b"])


def readout(params, h):
    """The output ``y = w_out h + b_out``; h (N,) -> y (n_out,)."""
    return params["w_out"] @ h + params["b_out"]


def run(params, inputs):
    """Outputs (B, T, n_out) for inputs (B, T, n_in), from the trained h0."""
    import jax

    def one_trial(x_seq):
        def advance(h, x):
            h = step(params, h, x)
            return h, readout(params, h)
        return jax.lax.scan(advance, params["h0"], x_seq)[1]

    return jax.vmap(one_trial)(inputs)


def loss(params, inputs, targets):
    import jax.numpy as jnp

    return jnp.mean((run(params, inputs) - targets) ** 2) + L2 * jnp.sum(params["W"] ** 2)


def train(seed=0, n_batches=N_BATCHES, verbose=False):
    """Train the network by Adam on fresh integrator trials; the trained params (float32).

    Returns
    -------
    params : dict of jax.Array
    seconds : float
        Training time (compilation included).
    """
    import jax
    import jax.numpy as jnp

    def clip(grads):
        norm = jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree_util.tree_leaves(grads)))
        return jax.tree_util.tree_map(lambda g: g * jnp.minimum(1.0, MAX_GRAD_NORM / norm), grads)

    @jax.jit
    def update(i, params, m, v, inputs, targets):
        b1, b2, eps = ADAM
        value, grads = jax.value_and_grad(loss)(params, inputs, targets)
        grads = clip(grads)
        m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
        v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g ** 2, v, grads)
        rate = LEARNING_RATE * DECAY ** i * jnp.sqrt(1 - b2 ** (i + 1)) / (1 - b1 ** (i + 1))
        params = jax.tree_util.tree_map(lambda p, m, v: p - rate * m / (jnp.sqrt(v) + eps),
                                        params, m, v)
        return params, m, v, value

    start = time.perf_counter()
    params = random_params(jax.random.PRNGKey(seed))
    m = jax.tree_util.tree_map(jnp.zeros_like, params)
    v = jax.tree_util.tree_map(jnp.zeros_like, params)
    chunk = 100  # batches drawn at once
    for first in range(0, n_batches, chunk):
        trials = tasks.integrator(chunk * BATCH_SIZE, T=TRAIN_T, seed=10_000 * seed + first)
        inputs = trials.inputs.reshape(chunk, BATCH_SIZE, *trials.inputs.shape[1:])
        targets = trials.targets.reshape(chunk, BATCH_SIZE, *trials.targets.shape[1:])
        for k in range(min(chunk, n_batches - first)):
            params, m, v, value = update(first + k, params, m, v, inputs[k], targets[k])
        if verbose:
            print(f"batch {first + chunk:5d}: loss {float(value):.5f}", flush=True)
    return params, time.perf_counter() - start


def analyse(params, out, *, n_trials=128, n_inits=256, seed=0):
    """``from_jax`` on the trained step, and the whole analysis into ``out`` (no figures).

    Returns
    -------
    Analysis, Results
    """
    an = from_jax(step, params, n_units=N_UNITS, n_inputs=1, readout=readout,
                  initial_state=params["h0"], task="integrator")
    res = an.analyze(out=out, n_trials=n_trials, n_inits=n_inits, seed=seed, formats=(),
                     overwrite=True, progress=False)
    return an, res


def line_attractor(res):
    """The longest traced line (an open 1-D manifold) and how far it spans the recorded
    states along their first principal component: ``(m, span, visited_span)``, ``m`` its
    row in ``res.get("manifolds")``; None when no line was traced.

    PC1 is that of dynan's PCA stage, fit on the mean trajectory of each trial type
    (positive and negative integrals), which part along the integrated value. (PC1 of
    all the recorded states follows the current input instead: in a vanilla RNN each
    step's input ``U x`` enters the state directly, and white noise makes it large.)
    """
    manifolds = res.get("manifolds")
    lines = [m for m in range(len(manifolds))
             if manifolds.dimension[m] == 1 and not manifolds.closed[m]]
    if not lines:
        return None
    m = max(lines, key=lambda k: manifolds.length[k])
    pca = res.get("pca")
    pc1, center = pca.components_[0], pca.mean_
    hidden = np.asarray(res.hidden).reshape(-1, res.hidden.shape[-1])
    along = (manifolds.manifold(m) - center) @ pc1
    return m, float(np.ptp(along)), float(np.ptp((hidden - center) @ pc1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (a temporary one by default)")
    args = parser.parse_args(argv)
    params, seconds = train(args.seed, verbose=True)
    print(f"trained in {seconds:.1f} s")
    out = args.out or Path(tempfile.mkdtemp()) / "jax-integrator"
    clock = time.perf_counter()
    an, res = analyse(params, out, seed=args.seed)
    print(f"{an}: analysed in {time.perf_counter() - clock:.1f} s into {out}")
    with res:
        print(f"performance (R^2): {dynan.Summary.read(out / 'summary.json').performance:.3f}")
        fps = res.fixed_points()
        inside = ~fps.outside
        print(f"fixed points: {fps}; |lambda| of the slowest mode at those inside the visited "
              f"region: {np.round(np.abs(fps.eigval_J_xstar[inside, 0]), 4).tolist()} (marginal "
              f"within {fps.marginal_tol:g} of 1)")
        manifolds = res.get("manifolds")
        print(f"manifolds: {manifolds}")
        found = line_attractor(res)
        if found is None:
            print("no line attractor traced: no fixed point inside the visited region is "
                  "marginal (try another --seed)")
            return 1
        m, span, visited = found
        print(f"line attractor: {len(manifolds.manifold(m))} points, speed at most "
              f"{manifolds.max_speed[m]:.1e}, memory time {manifolds.memory_time[m]:g} s; "
              f"along PC1 of the trial types' mean trajectories it spans {span:.2f}, the "
              f"recorded states {visited:.2f} ({span / visited:.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
