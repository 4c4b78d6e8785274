"""absl binaries over `kr_keras` (flags and wiring only): train_teacher,
distill, evaluate, tune, export, reproduce, figures. Run them with
`python -m experiments.<name> --helpfull`; see docs/experiments.md."""
