//! Crest playback.
