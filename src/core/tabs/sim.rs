//! The N-tab simulation.
