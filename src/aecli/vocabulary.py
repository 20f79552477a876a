"""The names and limits every layer shares, stated once: activations, likelihoods and the
largest code mixture. Plain data, no imports."""

# Hidden-layer activations: the flag's value -> the torch.nn module that implements it.
ACTIVATIONS = {
    "gelu": "GELU",
    "relu": "ReLU",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "elu": "ELU",
    "silu": "SiLU",
}

MAX_COMPONENTS = 64  # the largest --components (and what a checkpoint may declare)

# Decoder likelihoods a column can have (parts/likelihoods.py implements them).
LIKELIHOODS = ("gaussian", "bernoulli", "categorical")
