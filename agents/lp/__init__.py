"""The battery LP (pyomo + persistent HiGHS), whole-period solves, and LP policies for the envs."""
