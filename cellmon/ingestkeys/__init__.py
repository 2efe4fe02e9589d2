"""Per-class ingest keys: the credential students' JupyterLab carries in its events URL."""
