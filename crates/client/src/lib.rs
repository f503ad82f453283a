//! sockmux clients (later issue).
