"""sysfake: make missing kernel interfaces look present to a whole process tree."""

__version__ = "0.1.0"
