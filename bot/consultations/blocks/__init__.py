"""Block Kit builders for consultation posts, listings and the new-consultation modal."""
