"""Model monitoring on this machine: the data collector's local agent, the collected records read back,
and Azure ML's monitoring signals (data drift, prediction drift, data quality) computed over them."""
