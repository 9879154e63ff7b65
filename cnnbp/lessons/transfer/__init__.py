"""Transfer learning (lectures 000-004): sources, strategies, LoRA, source selection."""
