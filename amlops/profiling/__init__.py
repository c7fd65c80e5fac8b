"""`amlops profile`: load-test an endpoint in steps and recommend its Azure size (the book's Model.profile).

Modules, in the order a profile uses them: payloads (what to send), loadgen (one bounded
step of concurrent keep-alive requests), resources (the server's CPU and memory via
psutil), measurements (per-step figures), stepping (1, 2, 4, … clients until the SLO
breaks or errors appear), recommend (the sizing, a pure function), report (JSON + PNG),
stackwrite (--write), session (all of it for one stack), display and quickstart.
"""
