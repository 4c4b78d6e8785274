"""The experiments over `kr_keras`: absl binaries (flags only) train_teacher,
distill, evaluate, tune, export, reproduce, figures, demo and paired_study,
over the application package `experiments.lib` (configs, training wiring,
tables, figures, tuning). Run them with `python -m experiments.<name>
--helpfull`; see docs/experiments.md."""
