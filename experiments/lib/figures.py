"""The paper's Fig. 2, 4 and 5 as PNGs (matplotlib, Agg backend)."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from kr_keras import data  # noqa: E402
from kr_keras.models import cifar_resnet  # noqa: E402
from experiments.lib import regularization  # noqa: E402


def _save(fig, ax, path):
    """Adds the legend, writes `fig` to `path` (PNG, 120 dpi) and closes it."""
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def penalty_curves(path, tau=1.0, boost=2.0):
    """Fig. 2: SRP's induced penalty vs L1 and L2 over the residual."""
    r = np.linspace(-3, 3, 601)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(r, regularization.srp_penalty_curve(r, tau, boost),
            label=f"SRP (tau={tau:g}, boost={boost:g})")
    ax.plot(r, np.abs(r), label="L1 |r|")
    ax.plot(r, r**2 / 2, label="L2 r²/2")
    ax.axvspan(-tau, tau, color="grey", alpha=0.15, label="equal reward |r| ≤ tau")
    ax.set_xlabel("residual r")
    ax.set_ylabel("penalty")
    ax.set_title("Fig. 2: induced penalties")
    return _save(fig, ax, path)


def penalty_runs(dataset="fashion_mnist", steps=500, batch_size=64, take=None, seed=0,
                 depth=8, width=0.5, learning_rate=0.01):
    """Trains the same initial network once per penalty (SRP, L1, L2, none).

    Returns:
        `{penalty: (losses, kernel_values)}`.
    """
    import keras

    info = data.info(dataset)
    runs = {}
    for penalty in regularization.PENALTIES:
        keras.utils.set_random_seed(seed)
        model = cifar_resnet(depth, width, num_classes=info.num_classes,
                             input_shape=info.image_shape)
        ds = data.load(dataset, "train", batch_size, seed=seed, take=take)
        losses = regularization.train_with_parameter_penalty(
            model, ds, penalty, steps=steps, learning_rate=learning_rate)
        runs[penalty] = (losses, regularization.kernel_values(model))
    return runs


def kernel_histograms(runs, path, threshold=1e-2):
    """Fig. 4: histograms of the trained conv-kernel values per penalty."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    everything = np.concatenate([v for _, v in runs.values()])
    bins = np.linspace(*np.percentile(everything, [0.5, 99.5]), 80)
    for penalty, (_, values) in runs.items():
        fraction = regularization.near_zero_fraction(values, threshold)
        ax.hist(values, bins=bins, histtype="step",
                label=f"{penalty}: {100 * fraction:.1f}% |w|<{threshold:g}")
    ax.set_yscale("log")
    ax.set_xlabel("conv kernel value")
    ax.set_ylabel("count")
    ax.set_title("Fig. 4: kernel distribution by penalty")
    return _save(fig, ax, path)


def loss_curves(runs, path, dataset):
    """Fig. 5: training loss over the first iterations per penalty."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for penalty, (losses, _) in runs.items():
        losses = np.asarray(losses)
        window = max(1, len(losses) // 50)
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(len(smooth)) + window, smooth, label=penalty)
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss")
    ax.set_title(f"Fig. 5: convergence on {dataset}")
    return _save(fig, ax, path)


def make_all(out_dir, dataset="fashion_mnist", steps=500, take=None, seed=0):
    """Writes fig2_penalties.png, fig4_kernels.png, fig5_convergence.png."""
    os.makedirs(out_dir, exist_ok=True)
    paths = [penalty_curves(os.path.join(out_dir, "fig2_penalties.png"))]
    runs = penalty_runs(dataset, steps=steps, take=take, seed=seed)
    paths.append(kernel_histograms(runs, os.path.join(out_dir, "fig4_kernels.png")))
    paths.append(loss_curves(runs, os.path.join(out_dir, "fig5_convergence.png"), dataset))
    summary = {p: {"final_loss": float(np.mean(l[-10:])),
                   "near_zero": regularization.near_zero_fraction(v)} for p, (l, v) in runs.items()}
    return paths, summary
