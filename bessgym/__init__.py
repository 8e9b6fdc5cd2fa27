"""bessgym: a market-simulation gym for battery energy storage in the German power markets.

``import bessgym`` stays light: torch, mlflow, pymodbus and pvlib are imported only where they are used.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
