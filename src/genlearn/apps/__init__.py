"""Applications built on the models: text (more to come)."""
