"""`GET /metrics`: Prometheus metrics of every cellmon process of this host."""
