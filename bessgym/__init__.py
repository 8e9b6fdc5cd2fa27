"""bessgym: a market-simulation gym for battery energy storage in the German power markets.

``import bessgym`` registers the environments (``gym.make("bessgym/SingleBESS-v1")``) and stays light: the
entry points are strings, and the env modules, numba kernels, torch, mlflow, pymodbus and pvlib are imported
only where they are used.
"""

from importlib.metadata import PackageNotFoundError, version

from bessgym.envs.registration import register_envs

try:
    __version__ = version("bessgym")
except PackageNotFoundError:  # a source tree that was not installed
    __version__ = "0.0.0+unknown"
__all__ = ["__version__"]

register_envs()
