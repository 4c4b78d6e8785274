"""Console-script entry points (`kr-distill`, ...) for the absl binaries.

`run` gives pip's wrapper `__main__` the binary's docstring and key flags,
so `--help` shows them as `python -m experiments.<binary>` does.
"""

import sys

from absl import app
from absl import flags


def run(main, module_name):
    """Runs `main` (an absl `main(argv)`) as the binary `module_name`.

    Args:
        main: the binary's `main(argv)`.
        module_name: the binary's module, e.g. `"experiments.distill"`; its
            docstring and flags make the `--help` text.
    """
    entry = sys.modules["__main__"]
    if entry.__name__ != module_name and not entry.__doc__:
        entry.__doc__ = sys.modules[module_name].__doc__
    for flag in flags.FLAGS.get_key_flags_for_module(module_name):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    app.run(main)
