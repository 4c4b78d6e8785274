"""absl-flag binaries over kr_keras (flags and wiring only)."""
