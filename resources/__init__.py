"""Data files shipped with Roundhouse (icons, default config, routing examples, prompts)."""
