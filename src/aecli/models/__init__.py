"""Built-in models: a registry of named checkpoints shipped in the package."""
