"""The battery LP (array-built for HiGHS, stated in pyomo as the tests' oracle), whole-period solves, and LP
policies for the envs."""
