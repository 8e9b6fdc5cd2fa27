"""bessgym: a market-simulation gym for battery energy storage in the German power markets.

``import bessgym`` registers the environments (``gym.make("bessgym/SingleBESS-v0")``) and stays light:
torch, mlflow, pymodbus and pvlib are imported only where they are used.
"""

from bessgym.envs.registration import register_envs

__version__ = "0.1.0"
__all__ = ["__version__"]

register_envs()
