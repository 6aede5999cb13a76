"""The agents Roundhouse ships. Each registers through the `roundhouse.agents` entry points."""
