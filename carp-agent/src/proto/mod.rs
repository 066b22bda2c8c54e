//! CARP v2 advertisement codec: STUB, to be replaced.
