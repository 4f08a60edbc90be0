"""llmxai: explaining language models, built from scratch."""

from llmxai.device import get_device, seed_everything

__version__ = "0.1.0"
__all__ = ["get_device", "seed_everything", "__version__"]
