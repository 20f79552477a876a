"""Model parts: networks, corruptions, likelihoods, penalties and the kind presets. Pure torch."""
