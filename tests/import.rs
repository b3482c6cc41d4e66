//! `switchyard import` through the real binary.
