"""The experiments over `kr_keras`: absl binaries (flags only) train_teacher,
distill, evaluate, tune, export, reproduce, figures, demo and study, over the
application package `experiments.lib` (configs, training wiring, study,
tables, figures, tuning). Run them with `python -m experiments.<name>
--helpfull`; see docs/experiments.md."""
