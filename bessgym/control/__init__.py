"""Hardware control: the Controller protocol, Modbus TCP, a simulated battery, the safety layer, the control loop.

Importing ``bessgym.control`` loads pymodbus; ``import bessgym`` does not.
"""
