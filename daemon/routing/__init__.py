"""Where each request runs: complexity, privacy, budget and residency, and why."""
