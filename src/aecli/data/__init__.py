"""Data adapters: tables and images in, blocks of model-space rows out, and back."""
