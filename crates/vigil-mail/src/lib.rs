//! Phishing triage.
