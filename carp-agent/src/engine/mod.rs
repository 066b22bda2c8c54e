//! Election engine: STUB, to be replaced.
