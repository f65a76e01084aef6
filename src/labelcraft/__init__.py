"""labelcraft: learned training labels for short-video recommendation (LabelCraft, WSDM 2024)."""

__version__ = "0.1.0"
