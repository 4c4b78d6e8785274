"""The experiments over `kr_keras`: absl binaries (flags only) over
`experiments.lib`; `python -m experiments.<name> --helpfull`, docs/experiments.md."""
