"""One component per family of privileged jobs; each holds its models beside its calls."""
