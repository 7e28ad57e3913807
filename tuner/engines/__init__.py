"""Search engines behind one contract, and the engine-neutral trial they hand params to."""
