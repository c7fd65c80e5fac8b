"""Real-time scoring on this machine: scoring/score.py under the Azure ML inference server,
with the endpoint's key auth, limits and OpenTelemetry around it (`amlops serve`)."""
