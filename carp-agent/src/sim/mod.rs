//! Simulated segment of CARP nodes: STUB, to be replaced.
