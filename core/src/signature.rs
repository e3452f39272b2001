//! Shape checks on a signature before any backend sees it (length, scalar ranges).
