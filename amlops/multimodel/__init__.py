"""Several models in one stack, on this machine: a second model of another kind (a regressor) and the
two-model stack the quickstart serves both models from."""
