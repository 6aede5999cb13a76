"""The fleet: every machine that serves models, one model's several placements, and routing
across them by what each host has loaded, its memory, its queue and its latency."""
