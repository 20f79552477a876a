"""Storage: the safetensors checkpoint record and atomic file writes."""
