"""llmxai: explaining language models, built from scratch."""

from llmxai.device import generator, get_device, seed_everything, seed_offset, shift_seed

__version__ = "0.1.0"
__all__ = ["generator", "get_device", "seed_everything", "seed_offset", "shift_seed", "__version__"]
