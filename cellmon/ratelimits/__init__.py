"""Which requests count against which rate limit, and the 429 that answers one over it."""
