"""Maps dataset names to builders; `"npz:<path>"` and `"dir:<path>"` by their prefix."""

from kr_keras.data import cifar, fashion_mnist, imagenet, user_data

DATASETS = {
    "fashion_mnist": fashion_mnist.FashionMnist(),
    "cifar10": cifar.Cifar("cifar10", "cifar10"),
    "cifar100": cifar.Cifar("cifar100", "cifar100"),
    "t_cifar100": cifar.Cifar("t_cifar100", "cifar100", default_distortion_sigma=1.0),
    "imagenet2012": imagenet.Imagenet(),
}
PREFIXES = {
    "npz:": user_data.Npz,
    "dir:": user_data.ImageDir,
}


def known_names():
    """Dataset names and name patterns accepted by `load` and `info`."""
    return sorted(DATASETS) + [p + "<path>" for p in PREFIXES]


def get(name):
    """Returns the builder for `name`.

    Raises:
        ValueError: `name` is not a known dataset (the message lists them).
    """
    if isinstance(name, str):
        if name in DATASETS:
            return DATASETS[name]
        for prefix, factory in PREFIXES.items():
            if name.startswith(prefix) and len(name) > len(prefix):
                return factory(name[len(prefix):])
    raise ValueError(f"Unknown dataset. Known datasets: {known_names()}. Received: name={name!r}")
