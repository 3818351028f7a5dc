//! vigil-creds
