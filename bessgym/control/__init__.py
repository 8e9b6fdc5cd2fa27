"""Hardware control: the Controller protocol, Modbus TCP, a simulated battery, the safety layer, the runner.

Importing ``bessgym.control`` loads pymodbus; ``import bessgym`` does not.
"""
